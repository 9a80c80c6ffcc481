"""The gateway's pipeline admin endpoints over a real Redis: status, bulk replay by filter (dry run
by default), dead-consumer removal, and bad ids or parameters as 400/422 JSON, never a 500."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from services.gateway.app import create_app as create_gateway
from tests.integration.helpers import ADMIN, READER
from trustscope.bus import Message

pytestmark = pytest.mark.integration


def _dead(bus, stream: str, group: str, reason: str, n: int) -> None:
    bus.publish(stream, [{"doc": orjson.dumps({"n": i}).decode()} for i in range(n)])
    bus.ensure_group(stream, group)
    for m in bus.read(stream, group, "c-test", n, 100):
        bus.dead_letter(group, Message(stream, m.id, m.fields), f"{reason}: boom", 3, reason)


@pytest.fixture()
def admin(settings, bus, es, live_server):
    with live_server(create_gateway(settings)) as gw, httpx.Client(base_url=gw.url, timeout=30) as client:
        yield client


def test_status_and_bulk_replay_by_filter(admin, bus):
    _dead(bus, "verified", "indexer", "document_parsing_exception", 3)
    _dead(bus, "ingest", "sentiment", "ValueError", 2)
    st = admin.get("/v1/admin/pipeline", headers=ADMIN).json()
    assert st["dead_letters"] == 5 and st["dead_by_stage"] == {"indexer": 3, "sentiment": 2}
    assert [s["stage"] for s in st["stages"]] == ["sentiment", "integrity", "indexer"]

    dry = admin.post("/v1/admin/dead-letters/replay", headers=ADMIN, json={"stage": "indexer"})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["matched"] == 3
    assert bus.backlog("dead") == 5 and bus.backlog("verified") == 0  # a dry run changes nothing

    none = admin.post("/v1/admin/dead-letters/replay", headers=ADMIN,
                      json={"stage": "indexer", "until": time.time() - 3600, "dry_run": False})
    assert none.json()["matched"] == 0 and bus.backlog("dead") == 5

    done = admin.post("/v1/admin/dead-letters/replay", headers=ADMIN,
                      json={"reason": "document_parsing_exception", "error_contains": "boom",
                            "since": "2020-01-01T00:00:00", "dry_run": False, "limit": 2})
    assert done.status_code == 200
    assert done.json()["replayed"] == 2 and done.json()["by_stage"] == {"indexer": 2}
    assert bus.backlog("verified") == 2 and bus.backlog("dead") == 3
    assert admin.post("/v1/admin/dead-letters/replay", headers=READER).status_code == 403


def test_replay_and_prune_validate_their_parameters(admin):
    for body, field in (({"stage": "nope"}, "stage"), ({"limit": 0}, "limit"), ({"since": "yesterday"}, "since"),
                        ({"surprise": 1}, "surprise"), ({"dry_run": "maybe"}, "dry_run")):
        r = admin.post("/v1/admin/dead-letters/replay", headers=ADMIN, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (body, r.text)
    r = admin.post("/v1/admin/dead-letters/replay", headers=ADMIN, json={"since": 2000, "until": 1000})
    assert r.status_code == 400 and r.json()["field"] == "since" and r.json()["request_id"]
    r = admin.post("/v1/admin/consumers/prune", headers=ADMIN, json={"idle_ms": 5})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "idle_ms"


def test_prune_removes_only_idle_consumers_without_pending(admin, bus):
    bus.publish("ingest", [{"doc": "{}"}, {"doc": "{}"}])
    bus.ensure_group("ingest", "sentiment")
    assert bus.read("ingest", "sentiment", "holder", 1, 100)  # keeps one pending message
    bus.forward("ingest", "sentiment", bus.read("ingest", "sentiment", "idle", 1, 100), None, [])
    time.sleep(1.1)
    dry = admin.post("/v1/admin/consumers/prune", headers=ADMIN, json={"idle_ms": 1000}).json()
    assert dry["dry_run"] is True and [c["consumer"] for c in dry["consumers"]] == ["idle"]
    done = admin.post("/v1/admin/consumers/prune", headers=ADMIN, json={"idle_ms": 1000, "dry_run": False})
    assert [c["consumer"] for c in done.json()["consumers"]] == ["idle"]
    names = {c["name"] for c in admin.get("/v1/admin/pipeline", headers=ADMIN).json()["stages"][0]["consumers"]}
    assert names == {"holder"}


def test_bad_dead_letter_ids_are_400_json(admin):
    for bad in ("|", "abc", "1-2-3", "-", "99999999999999999999-0", "1-" + "9" * 20):
        for method, path in (("POST", f"/v1/admin/dead-letters/{bad}/replay"), ("DELETE", f"/v1/admin/dead-letters/{bad}")):
            r = admin.request(method, path, headers=ADMIN)
            assert r.status_code == 400 and r.json()["field"] == "dead_id" and r.json()["request_id"], (path, r.text)
    assert admin.post("/v1/admin/dead-letters/1-0/replay", headers=ADMIN).status_code == 404
    assert admin.delete("/v1/admin/dead-letters/1-0", headers=ADMIN).status_code == 404
