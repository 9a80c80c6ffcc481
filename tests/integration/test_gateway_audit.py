"""The audit log's path: Redis stream -> Elasticsearch, exactly once, surviving an ES outage."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from trustscope.audit import AuditEntry, AuditLog

pytestmark = pytest.mark.integration


def entry(i: int) -> AuditEntry:
    return AuditEntry(key_id="k1", role="regulator", action="search", endpoint="/v1/search", query=f"催收 {i}",
                      filters={"platforms": ["ppdai"]}, result_count=i)


def test_entries_wait_out_an_outage_and_are_written_once(settings, es, rclient):
    live = AuditLog(es, settings.es_index_prefix, rclient, settings.stream_prefix)
    live.ensure()
    for i in range(3):
        live.record(entry(i))
    assert live.flush() == 3 and live.pending() == 0

    down = AuditLog(Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0),
                    settings.es_index_prefix, rclient, settings.stream_prefix)
    for i in range(3, 5):
        down.record(entry(i))
    with pytest.raises(Exception):
        down.flush()
    assert live.pending() == 2  # still in the stream, read but not acknowledged
    # another process takes the unacknowledged entries over once they are idle
    other = AuditLog(es, settings.es_index_prefix, rclient, settings.stream_prefix)
    other.consumer = "another-gateway"
    assert other.flush(claim_idle_ms=0) == 2 and live.pending() == 0
    es.indices.refresh(index=live.index)
    hits = es.search(index=live.index, size=20, sort=[{"result_count": "asc"}])["hits"]["hits"]
    assert [h["_source"]["result_count"] for h in hits] == [0, 1, 2, 3, 4]
    assert live.search(platform="ppdai", q="催收")["total"] == 5
