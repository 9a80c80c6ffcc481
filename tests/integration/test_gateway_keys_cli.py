"""``trustscope keys create|list|rotate|revoke`` against a real Redis, and the gateway honouring them."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from trustscope.auth import KeyRing
from trustscope.cli.main import app
from trustscope.settings import get_settings

pytestmark = pytest.mark.integration


def test_keys_cli_lifecycle(settings, rclient, monkeypatch):
    monkeypatch.setenv("TS_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("TS_STREAM_PREFIX", settings.stream_prefix)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = runner.invoke(app, ["keys", "create", "--label", "银保监 analyst", "-r", "regulator",
                                   "--expires-in-days", "7"])
        assert made.exit_code == 0, made.output
        issued = orjson.loads(made.output)
        key, key_id = issued["key"], issued["record"]["id"]
        ring = KeyRing.from_settings(settings, rclient)
        assert ring.lookup(key).roles == frozenset({"regulator"})

        listed = [orjson.loads(line) for line in runner.invoke(app, ["keys", "list"]).output.splitlines()]
        assert [r["label"] for r in listed] == ["银保监 analyst"] and key not in str(listed)

        rotated = orjson.loads(runner.invoke(app, ["keys", "rotate", key_id]).output)["key"]
        assert ring.lookup(key) is None and ring.lookup(rotated) is not None

        assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
        assert ring.lookup(rotated) is None
        assert runner.invoke(app, ["keys", "list"]).output.strip() == ""
        assert len(runner.invoke(app, ["keys", "list", "--all"]).output.splitlines()) == 1

        bad = runner.invoke(app, ["keys", "create", "--label", "x", "-r", "platform"])
        assert bad.exit_code == 2 and "platforms" in bad.output
        assert runner.invoke(app, ["keys", "rotate", "nope"]).exit_code == 1
    finally:
        get_settings.cache_clear()
