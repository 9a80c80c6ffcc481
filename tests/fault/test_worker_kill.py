"""kill -9 of each worker process in the middle of a replay: the restarted (new) consumer claims the
dead one's batch, and every document is indexed exactly once with nothing dead-lettered.

Uses the session Redis and Elasticsearch (no server is stopped here)."""

from __future__ import annotations

import time

import pytest
import redis

from tests.fault.harness import assert_pipeline_drained, connect, indexed_ids, sample_inputs, settings_for, wait_indexed
from tests.integration.helpers import wait_until
from trustscope.intake import Intake

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.fault]
N = 900


def test_kill9_each_worker_mid_replay(redis_url, es_url, prefix, spawn, cleanup):
    cleanup("redis", redis_url)
    settings = settings_for(redis_url, es_url, prefix, claim_idle_ms=1000, max_deliveries=3, batch_size=32)
    client, bus, es = connect(settings)
    cleanup("es", es)
    alias = f"{prefix}-docs"
    workers = {name: spawn(name, settings) for name in ("indexer", "integrity", "sentiment")}
    for w in workers.values():
        w.wait_ready(timeout=180)

    intake = Intake(client, settings)
    intake.registry.seed_defaults()
    items = sample_inputs(N, source=f"kill-{prefix}")
    outcomes = intake.submit(items)
    acknowledged = {o.id for o in outcomes if o.status == "accepted"}
    assert len(acknowledged) == N

    # each stage is killed while it holds messages it has not acknowledged, then started again
    for name, stream in (("sentiment", "ingest"), ("integrity", "scored"), ("indexer", "verified")):
        def busy(stream: str = stream, group: str = name) -> bool:
            try:
                return client.xpending(bus.key(stream), group)["pending"] > 0
            except redis.ResponseError:
                return False

        wait_until(busy, timeout=60, interval=0.02)
        workers[name].kill9()
        workers[name] = spawn(name, settings)
        time.sleep(0.3)

    wait_indexed(es, alias, N, timeout=180)
    time.sleep(1.5)  # anything still in flight would show up as a duplicate or a pending message
    ids = indexed_ids(es, alias)
    assert len(ids) == len(set(ids)) == N and set(ids) == acknowledged
    wait_until(lambda: all(client.xpending(bus.key(s), g)["pending"] == 0 for s, g in
                           (("ingest", "sentiment"), ("scored", "integrity"), ("verified", "indexer"))),
               timeout=30)
    assert_pipeline_drained(client, bus)
    # every review got its integrity verdict although the integrity worker died mid-batch
    es.indices.refresh(index=alias)
    missing = es.count(index=alias, query={"bool": {"must_not": {"exists": {"field": "integrity.verdict"}}}})
    assert missing["count"] == 0
    es.close()
    client.close()
