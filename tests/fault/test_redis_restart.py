"""Redis restarted (AOF on) while documents are being ingested and processed: every acknowledged
document is indexed exactly once, the integrity worker's Lua scripts survive the restart (no
NoScriptError dead letters), the workers resume by themselves and log each outage once."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from elasticsearch import Elasticsearch

from tests.fault.harness import (
    PrivateRedis,
    assert_pipeline_drained,
    indexed_ids,
    private_node,
    sample_inputs,
    settings_for,
    wait_indexed,
)
from tests.integration.helpers import wait_until
from trustscope.bus import StreamBus
from trustscope.intake import Intake

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.fault]
N = 1500
BATCH = 50


@pytest.fixture()
def private_redis():
    with private_node(PrivateRedis, 6421) as node:
        yield node


def test_redis_restart_during_intake_loses_no_acknowledged_document(private_redis, es_url, prefix, spawn, cleanup):
    settings = settings_for(private_redis.url, es_url, prefix, claim_idle_ms=1000, max_deliveries=3)
    es = Elasticsearch(es_url, request_timeout=30)
    cleanup("es", es)
    alias = f"{prefix}-docs"
    workers = [spawn(name, settings) for name in ("indexer", "integrity", "sentiment")]
    for w in workers:
        w.wait_ready(timeout=180)

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    intake = Intake(client, settings)
    intake.registry.seed_defaults()
    items = sample_inputs(N, source=f"restart-{prefix}")
    acknowledged: set[str] = set()
    refused_batches = 0

    def produce() -> None:
        nonlocal refused_batches
        for start in range(0, N, BATCH):
            batch = items[start:start + BATCH]
            deadline = time.monotonic() + 60
            while True:  # a client retries what was not acknowledged
                try:
                    outcomes = intake.submit(batch)
                except redis.RedisError:
                    refused_batches += 1
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
                    continue
                acknowledged.update(o.id for o in outcomes if o.status in ("accepted", "duplicate"))
                break
            time.sleep(0.1)  # ~3 s of intake: the restart lands in the middle of it

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    wait_until(lambda: len(acknowledged) >= N // 4, timeout=60, interval=0.05)
    private_redis.stop()
    time.sleep(1.0)
    private_redis.start()
    producer.join(timeout=120)
    assert not producer.is_alive()
    assert len(acknowledged) == N
    assert refused_batches > 0, "the restart happened while intake was running"

    wait_indexed(es, alias, N, timeout=180)
    time.sleep(1.0)
    ids = indexed_ids(es, alias)
    assert len(ids) == len(set(ids)) == N and set(ids) == acknowledged
    bus = StreamBus(redis.Redis.from_url(settings.redis_url), prefix)
    wait_until(lambda: all(w.readyz()[0] == 200 for w in workers), timeout=30)
    assert_pipeline_drained(bus.client, bus)
    for w in workers:
        lines = w.log_lines()
        assert not any("NoScriptError" in line for line in lines), w.log_tail()
        assert sum("dependency.degraded" in line for line in lines) <= 2, w.log_tail()
        assert len(lines) < 40, w.log_tail()  # no line per message
    es.close()
