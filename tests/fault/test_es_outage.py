"""Elasticsearch stopped for longer than claim-idle x max-deliveries: nothing is dead-lettered, the
indexer says it is not ready, logs a line or two instead of one per message, and once the node is
back every document is indexed exactly once without anyone replaying anything.

Runs a private Elasticsearch node (this module alone stops it) and a private Redis."""

from __future__ import annotations

import time

import pytest

from tests.conftest import _java_available
from tests.fault.harness import (
    PrivateES,
    PrivateRedis,
    assert_pipeline_drained,
    connect,
    indexed_ids,
    private_node,
    sample_inputs,
    settings_for,
    verified_messages,
    wait_indexed,
)
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.fault]


@pytest.fixture(scope="module")
def private_es():
    if not _java_available():
        pytest.skip("no JDK for a private Elasticsearch")
    with private_node(PrivateES, 9271) as node:
        yield node


@pytest.fixture()
def private_redis():
    with private_node(PrivateRedis, 6411) as node:
        yield node


def test_es_stopped_longer_than_claim_timer_loses_nothing(private_es, private_redis, prefix, spawn):
    settings = settings_for(private_redis.url, private_es.url, prefix, claim_idle_ms=500, max_deliveries=3)
    client, bus, es = connect(settings)
    alias = f"{prefix}-docs"
    items = sample_inputs(400, source=f"es-outage-{prefix}")
    expected = {i.to_document([]).id for i in items}
    messages = verified_messages(items)

    indexer = spawn("indexer", settings)
    indexer.wait_ready(timeout=120)
    bus.publish("verified", messages[:100])
    wait_indexed(es, alias, 100, timeout=60)

    private_es.stop()
    down_at = time.monotonic()
    log_before = indexer.log_bytes()
    bus.publish("verified", messages[100:])
    outage_s = 3 * settings.claim_idle_ms * settings.max_deliveries / 1000  # 4.5 s: 3x the old limit
    wait_until(lambda: indexer.readyz()[0] == 503, timeout=30)
    while time.monotonic() - down_at < outage_s:
        time.sleep(0.5)
    status, body = indexer.readyz()
    assert status == 503 and body["dependencies_down"] == ["elasticsearch"]
    assert bus.backlog("dead") == 0  # the old worker dead-lettered everything in flight here
    pending = client.xpending_range(bus.key("verified"), "indexer", min="-", max="+", count=1000)
    assert pending, "the indexer holds its batch through the outage"
    assert max(int(p["times_delivered"]) for p in pending) == 1  # no redelivery counted the outage
    outage_log = indexer.log_bytes() - log_before

    private_es.start()
    wait_indexed(es, alias, len(items), timeout=120)
    wait_until(lambda: indexer.readyz()[0] == 200, timeout=30)

    ids = indexed_ids(es, alias)
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected
    assert_pipeline_drained(client, bus, [("verified", "indexer")])
    events = [line for line in indexer.log_lines() if "dependency." in line]
    assert sum("dependency.degraded" in e for e in events) == 1, events
    assert sum("dependency.recovered" in e for e in events) == 1, events
    # one line down, (nothing per message), one line back: bounded whatever the outage length
    assert outage_log < 2_000, indexer.log_tail()
    es.close()
    client.close()
