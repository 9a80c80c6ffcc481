"""A consumer killed in the middle of a batch: another consumer finishes its work, nothing is lost
and nothing is duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from trustscope.intake import Intake
from trustscope.schemas import DocumentIn
from trustscope.samples import reviews
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.integration
N = 120


def test_killed_consumer_batch_is_finished_by_another(settings, rclient, bus, es, pipeline):
    intake = Intake(rclient, settings)
    intake.registry.seed_defaults()
    outcomes = intake.submit([DocumentIn.model_validate(r) for r in reviews(N, seed=11)])
    assert all(o.status == "accepted" for o in outcomes)
    bus.ensure_group("ingest", "sentiment")

    script = Path(__file__).with_name("crashing_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, str(script), settings.redis_url, settings.stream_prefix],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        for line in proc.stdout:  # type: ignore[union-attr]  # skip the worker's log lines
            if line.startswith("holding"):
                break
        assert line.startswith("holding"), line
        held = int(line.split()[1])
        assert 0 < held < N
        pending = rclient.xpending(bus.key("ingest"), "sentiment")
        assert pending["pending"] == held
    finally:
        proc.send_signal(signal.SIGKILL)  # dies mid-batch: no ack, no output
        proc.wait(timeout=10)

    with pipeline():
        alias = f"{settings.es_index_prefix}-docs"

        def done() -> bool:
            es.indices.refresh(index=alias)
            return es.count(index=alias)["count"] >= N

        wait_until(done, timeout=180)
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == N
    ids = es.search(index=alias, size=0, aggs={"u": {"cardinality": {"field": "id"}}})
    assert ids["aggregations"]["u"]["value"] == N
    # nothing left pending in any stage, nothing dead-lettered
    for stream, group in (("ingest", "sentiment"), ("scored", "integrity"), ("verified", "indexer")):
        assert rclient.xpending(bus.key(stream), group)["pending"] == 0
    assert bus.backlog("dead") == 0
