"""The worker loop on a real Redis: a dependency outage longer than claim-idle x max-deliveries
holds the batch (no failure counted, no redelivery, nothing dead-lettered), flips readiness, and
the batch goes through once the dependency is back; a lost commit reply is not committed twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from tests.integration.helpers import wait_until
from trustscope.bus import Message
from trustscope.resilience import ELASTICSEARCH, DependencyDown
from trustscope.worker import StreamWorker

pytestmark = pytest.mark.integration


class OutageStage:
    name = "indexer"
    source = "verified"
    dest = None
    dependencies = ("redis", ELASTICSEARCH)

    def __init__(self) -> None:
        self.down = True
        self.calls = 0
        self.seen: list[str] = []

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        self.calls += 1
        if self.down:
            raise DependencyDown(ELASTICSEARCH, "connection refused")
        self.seen.extend(m.fields["n"] for m in messages)
        return []


def test_outage_holds_the_batch_without_counting_deliveries(settings, bus, rclient):
    settings = settings.model_copy(update={"claim_idle_ms": 200, "max_deliveries": 2,
                                           "outage_backoff_base_ms": 50, "outage_backoff_max_ms": 200})
    bus.claim_idle_ms = 200
    bus.max_deliveries = 2
    bus.publish("verified", [{"n": str(i)} for i in range(10)])
    stage = OutageStage()
    worker = StreamWorker(stage, bus, settings, consumer="holder")
    # a second consumer in the group would take over idle messages: it must find none to take
    thief = StreamWorker(OutageStage(), bus, settings, consumer="thief")
    thief.stage.down = False
    t = threading.Thread(target=worker.run, daemon=True)
    t.start()
    wait_until(lambda: stage.calls >= 3, timeout=10, interval=0.02)
    assert not worker.ready.is_set() and worker.status()["dependencies_down"] == [ELASTICSEARCH]
    deadline = time.monotonic() + 1.5  # > claim_idle x max_deliveries
    while time.monotonic() < deadline:
        assert thief.bus.claim_stale("verified", "indexer", "thief", 100) == []
        time.sleep(0.1)
    pending = rclient.xpending_range(bus.key("verified"), "indexer", min="-", max="+", count=100)
    assert len(pending) == 10 and {int(p["times_delivered"]) for p in pending} == {1}
    assert not rclient.exists(f"{settings.stream_prefix}:failures:verified")
    assert bus.backlog("dead") == 0
    stage.down = False
    wait_until(lambda: len(stage.seen) == 10, timeout=10, interval=0.05)
    wait_until(worker.ready.is_set, timeout=5)
    assert sorted(stage.seen, key=int) == [str(i) for i in range(10)]
    worker.stop_event.set()
    t.join(timeout=10)
    assert bus.backlog("verified") == 0 and bus.backlog("dead") == 0


class EchoStage:
    name = "sentiment"
    source = "ingest"
    dest = "scored"

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        return [{"n": m.fields["n"]} for m in messages]


def test_commit_whose_reply_was_lost_is_not_redone(settings, bus):
    bus.publish("ingest", [{"n": str(i)} for i in range(5)])
    worker = StreamWorker(EchoStage(), bus, settings, consumer="c")
    bus.ensure_group("ingest", "sentiment")
    real_commit = bus.commit
    calls = {"n": 0}

    def flaky_commit(*args, **kwargs):
        calls["n"] += 1
        real_commit(*args, **kwargs)
        if calls["n"] == 1:
            import redis

            raise redis.ConnectionError("reply lost after EXEC")

    bus.commit = flaky_commit  # type: ignore[method-assign]
    with pytest.raises(Exception):
        worker.run_once()
    assert worker._held is not None and worker._held.commit_tried
    assert worker.run_once() == 5  # checks the pending list, finds it committed
    assert calls["n"] == 1 and bus.backlog("scored") == 5 and bus.backlog("ingest") == 0
