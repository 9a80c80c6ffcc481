"""Repair tools on a real Redis: pipeline status, filtered bulk replay with a dry run, dead-consumer
removal that never drops a pending message, and the ``trustscope pipeline`` commands."""

from __future__ import annotations

import time

import orjson
import pytest
from typer.testing import CliRunner

from trustscope.bus import Message
from trustscope.pipeline_admin import (
    DeadLetterFilter,
    largest_backlog,
    pipeline_status,
    remove_dead_consumers,
    replay_dead_letters,
)

pytestmark = pytest.mark.integration


def _dead(bus, stream: str, group: str, reason: str, n: int) -> None:
    ids = bus.publish(stream, [{"doc": orjson.dumps({"n": i, "r": reason}).decode()} for i in range(n)])
    bus.ensure_group(stream, group)
    got = bus.read(stream, group, "c-test", n, 100)
    assert [m.id for m in got] == ids
    for m in got:
        bus.dead_letter(group, Message(stream, m.id, m.fields), f"{reason}: boom", 3, reason)


def test_status_replay_by_filter_and_dry_run(bus, rclient):
    _dead(bus, "verified", "indexer", "document_parsing_exception", 3)
    _dead(bus, "ingest", "sentiment", "ValueError", 2)
    st = pipeline_status(bus)
    assert st.dead_letters == 5
    assert st.dead_by_reason == {"document_parsing_exception": 3, "ValueError": 2}
    assert st.dead_by_stage == {"indexer": 3, "sentiment": 2}
    indexer = next(s for s in st.stages if s.stage == "indexer")
    assert indexer.length == 0 and indexer.pending == 0 and [c.name for c in indexer.consumers] == ["c-test"]

    dry = replay_dead_letters(bus, DeadLetterFilter(reason="document_parsing_exception"), dry_run=True)
    assert dry.matched == 3 and dry.replayed == 0 and bus.backlog("dead") == 5 and bus.backlog("verified") == 0

    none = replay_dead_letters(bus, DeadLetterFilter(stage="indexer", until=time.time() - 3600), dry_run=False)
    assert none.matched == 0 and bus.backlog("dead") == 5

    done = replay_dead_letters(bus, DeadLetterFilter(stage="indexer", since=time.time() - 60), dry_run=False, limit=2)
    assert done.matched == done.replayed == 2 and done.by_reason == {"document_parsing_exception": 2}
    assert bus.backlog("verified") == 2 and bus.backlog("dead") == 3
    assert largest_backlog(bus) == 2
    st = pipeline_status(bus)
    assert next(s for s in st.stages if s.stage == "indexer").lag == 2
    replayed = rclient.xrange(bus.key("verified"))
    assert orjson.loads(replayed[0][1][b"doc"])["r"] == "document_parsing_exception"


def test_remove_dead_consumers_keeps_those_with_pending(bus, rclient):
    bus.publish("ingest", [{"doc": "{}"} for _ in range(3)])
    bus.ensure_group("ingest", "sentiment")
    held = bus.read("ingest", "sentiment", "dead-with-pending", 1, 100)
    assert len(held) == 1
    done = bus.read("ingest", "sentiment", "dead-idle", 2, 100)
    bus.forward("ingest", "sentiment", done, None, [])
    time.sleep(0.05)
    assert remove_dead_consumers(bus, idle_ms=3_600_000, dry_run=False) == []  # not idle long enough
    dry = remove_dead_consumers(bus, idle_ms=10, dry_run=True)
    assert [c.consumer for c in dry] == ["dead-idle"]
    assert len(rclient.xinfo_consumers(bus.key("ingest"), "sentiment")) == 2
    removed = remove_dead_consumers(bus, idle_ms=10, dry_run=False)
    assert [(c.stage, c.consumer) for c in removed] == [("sentiment", "dead-idle")]
    left = rclient.xinfo_consumers(bus.key("ingest"), "sentiment")
    assert [c["name"].decode() for c in left] == ["dead-with-pending"]
    assert rclient.xpending(bus.key("ingest"), "sentiment")["pending"] == 1


def test_pipeline_cli(bus, settings, monkeypatch):
    from trustscope.cli.main import app
    from trustscope.settings import get_settings

    _dead(bus, "scored", "integrity", "KeyError", 2)
    monkeypatch.setenv("TS_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("TS_STREAM_PREFIX", settings.stream_prefix)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = runner.invoke(app, ["pipeline", "status", "--json"])
        assert out.exit_code == 0, out.output
        body = orjson.loads(out.output)
        assert body["dead_letters"] == 2 and body["dead_by_reason"] == {"KeyError": 2}
        assert [s["stage"] for s in body["stages"]] == ["sentiment", "integrity", "indexer"]
        table = runner.invoke(app, ["pipeline", "status"])
        assert table.exit_code == 0 and "integrity" in table.output and "KeyError" in table.output
        dry = orjson.loads(runner.invoke(app, ["pipeline", "replay", "--stage", "integrity"]).output)
        assert dry["dry_run"] and dry["matched"] == 2 and dry["replayed"] == 0
        bad = runner.invoke(app, ["pipeline", "replay", "--since", "yesterday"])
        assert bad.exit_code != 0
        real = orjson.loads(runner.invoke(app, ["pipeline", "replay", "--reason", "KeyError", "--apply"]).output)
        assert real["replayed"] == 2 and bus.backlog("dead") == 0 and bus.backlog("scored") == 2
    finally:
        get_settings.cache_clear()
