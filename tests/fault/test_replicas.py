"""Two replicas of every worker on one machine share the consumer groups: each document is
processed by exactly one replica of each stage (the stage counters sum to N), both replicas take
work, and every document is indexed exactly once."""

from __future__ import annotations

import pytest

from tests.fault.harness import assert_pipeline_drained, connect, indexed_ids, sample_inputs, settings_for, wait_indexed
from tests.integration.helpers import wait_until
from trustscope.intake import Intake

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.fault]
N = 1200


def test_two_replicas_per_stage_no_loss_no_duplicates(redis_url, es_url, prefix, spawn, cleanup):
    cleanup("redis", redis_url)
    settings = settings_for(redis_url, es_url, prefix, claim_idle_ms=5000, batch_size=16, batch_wait_ms=20)
    client, bus, es = connect(settings)
    cleanup("es", es)
    names = ("indexer", "integrity", "sentiment")
    replicas = {name: [spawn(name, settings), spawn(name, settings)] for name in names}
    for pair in replicas.values():
        for w in pair:
            w.wait_ready(timeout=180)

    intake = Intake(client, settings)
    intake.registry.seed_defaults()
    items = sample_inputs(N, source=f"replicas-{prefix}")
    for start in range(0, N, 100):
        assert all(o.status == "accepted" for o in intake.submit(items[start:start + 100]))
    alias = f"{prefix}-docs"
    wait_indexed(es, alias, N, timeout=240)
    ids = indexed_ids(es, alias)
    assert len(ids) == len(set(ids)) == N

    def counted(name: str) -> list[float]:
        return [w.metric("trustscope_stage_messages_total", stage=name, outcome="ok") for w in replicas[name]]

    for name in ("sentiment", "integrity"):
        wait_until(lambda name=name: sum(counted(name)) >= N, timeout=30)
        per_replica = counted(name)
        assert sum(per_replica) == N, (name, per_replica)  # no message handled twice
        assert all(c > 0 for c in per_replica), (name, per_replica)  # both replicas took work
    indexed = counted("indexer")  # N documents plus the integrity stage's verdict revisions
    assert sum(indexed) >= N and all(c > 0 for c in indexed), indexed
    for stream, group in (("ingest", "sentiment"), ("scored", "integrity"), ("verified", "indexer")):
        consumers = client.xinfo_consumers(bus.key(stream), group)
        assert len(consumers) == 2
    # a verdict revision that reached one indexer replica before the other indexed its document is
    # retried after the claim timer: wait for those, then nothing may be left anywhere
    wait_until(lambda: all(client.xpending(bus.key(s), g)["pending"] == 0 and client.xlen(bus.key(s)) == 0
                           for s, g in (("ingest", "sentiment"), ("scored", "integrity"), ("verified", "indexer"))),
               timeout=60, interval=0.5)
    assert_pipeline_drained(client, bus)
    es.close()
    client.close()
