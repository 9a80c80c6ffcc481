"""A slow or overloaded Elasticsearch (a local proxy that delays, or answers 429 to everything):
the indexer backs off (a handful of requests, not a busy loop), dead-letters nothing, and indexes
everything exactly once when Elasticsearch recovers. A document the mapping refuses is
dead-lettered at once, with the reason, while the rest of its batch is indexed."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import orjson
import pytest
import redis
from elasticsearch import Elasticsearch

from tests.fault.harness import FaultProxy, assert_pipeline_drained, indexed_ids, sample_inputs, settings_for, verified_messages, wait_indexed
from tests.integration.helpers import wait_until
from trustscope.bus import StreamBus

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.fault]


def test_429_and_slow_es_get_backoff_not_a_busy_loop(redis_url, es_url, prefix, spawn, cleanup):
    cleanup("redis", redis_url)
    es = Elasticsearch(es_url, request_timeout=30)
    cleanup("es", es)
    alias = f"{prefix}-docs"
    with FaultProxy(urlparse(es_url).port or 9200) as proxy:
        settings = settings_for(redis_url, proxy.url, prefix, claim_idle_ms=500, max_deliveries=3,
                                outage_backoff_base_ms=500, outage_backoff_max_ms=4000)
        client = redis.Redis.from_url(redis_url)
        bus = StreamBus(client, prefix, settings.max_deliveries, settings.claim_idle_ms)
        items = sample_inputs(300, source=f"proxy-{prefix}")
        messages = verified_messages(items)
        indexer = spawn("indexer", settings)
        indexer.wait_ready(timeout=120)

        proxy.mode = "429"
        proxy.requests = 0
        bus.publish("verified", messages[:200])
        time.sleep(8.0)
        refused = proxy.requests
        # item retries (3 per attempt) inside capped exponential worker backoff: ~10-20 requests in
        # 8 s; a busy loop makes thousands
        assert 2 <= refused <= 40, refused
        assert indexer.readyz()[0] == 503
        assert bus.backlog("dead") == 0

        proxy.mode, proxy.delay_s = "slow", 1.0
        bus.publish("verified", messages[200:])
        wait_indexed(es, alias, len(items), timeout=90)
        proxy.mode = "pass"
        ids = indexed_ids(es, alias)
        assert len(ids) == len(set(ids)) == len(items)
        wait_until(lambda: indexer.readyz()[0] == 200, timeout=30)
        assert_pipeline_drained(client, bus, [("verified", "indexer")])
        assert indexer.metric("trustscope_outage_retries_total", dependency="elasticsearch") >= 2
        assert indexer.metric("trustscope_dependency_up", dependency="elasticsearch") == 1
        assert len(indexer.log_lines()) < 30, indexer.log_tail()
        client.close()
    es.close()


def test_mapping_refusal_is_dead_lettered_at_once_with_reason(redis_url, es_url, prefix, cleanup):
    from services.indexer.stage import IndexerStage
    from trustscope.es import DocIndices
    from trustscope.worker import StreamWorker

    cleanup("redis", redis_url)
    es = Elasticsearch(es_url, request_timeout=30)
    cleanup("es", es)
    settings = settings_for(redis_url, es_url, prefix)
    client = redis.Redis.from_url(redis_url)
    bus = StreamBus(client, prefix, settings.max_deliveries, settings.claim_idle_ms)
    indices = DocIndices(prefix)
    indices.migrate(es)
    messages = verified_messages(sample_inputs(20, source=f"map-{prefix}"))
    bad = orjson.loads(messages[7]["doc"])
    bad["author_review_count"] = 3_000_000_000  # beyond the mapping's integer
    messages[7] = {"doc": orjson.dumps(bad).decode(), "op": "index"}
    bus.publish("verified", messages)
    worker = StreamWorker(IndexerStage(es, indices), bus, settings)
    bus.ensure_group("verified", "indexer")
    wait_until(lambda: worker.run_once() == 0 and bus.backlog("verified") == 0, timeout=30, interval=0.05)
    dead = bus.dead_letters()
    assert len(dead) == 1 and dead[0].deliveries == 1  # at once, not after max_deliveries passes
    assert dead[0].reason in ("document_parsing_exception", "mapper_parsing_exception")
    assert "author_review_count" in dead[0].error
    assert orjson.loads(dead[0].fields["doc"])["id"] == bad["id"]
    es.indices.refresh(index=f"{prefix}-docs")
    assert es.count(index=f"{prefix}-docs")["count"] == 19
    client.close()
    es.close()
