"""Alerts through the gateway over real HTTP: list/filter from Elasticsearch, the lifecycle
(acknowledge -> resolve -> reopen, who and when, 409 on a wrong step), roles, subscriptions CRUD,
and the SSE stream read by a real client, then resumed after a disconnect with Last-Event-ID."""

from __future__ import annotations

import httpx
import orjson
import pytest

from services.gateway.app import create_app as create_gateway
from services.gateway.routers import alerts as alerts_router
from tests.integration.alerts_helpers import engine_for, open_alert
from tests.integration.helpers import ALERTS, READER
from trustscope.alerts.index import AlertIndices, flush_dirty

pytestmark = pytest.mark.integration


@pytest.fixture()
def alert_index(es, settings):
    indices = AlertIndices(settings.es_index_prefix)
    indices.migrate(es, replicas=0)
    yield indices
    es.options(ignore_status=404).indices.delete_index_template(name=indices.template)


def test_alert_lifecycle_and_filters_through_the_api(settings, rclient, es, alert_index, live_server):
    engine = engine_for(rclient, settings)
    a1 = open_alert(engine, "xiaoying", "小赢卡贷", "a")
    a2 = open_alert(engine, "qudian", "趣店", "b")
    flush_dirty(es, alert_index, engine.store, refresh=True)
    with live_server(create_gateway(settings)) as gw, httpx.Client(base_url=gw.url, timeout=30) as c:
        assert c.get("/v1/alerts").status_code == 401
        assert c.get("/v1/alerts", headers=READER).status_code == 403  # regulators do not run alerts
        listed = c.get("/v1/alerts", headers=ALERTS).json()
        assert listed["total"] == 2 and {a["id"] for a in listed["alerts"]} == {a1.id, a2.id}
        only = c.get("/v1/alerts", params={"platform": "qudian", "status": "open"}, headers=ALERTS).json()
        assert [a["id"] for a in only["alerts"]] == [a2.id]
        assert c.get("/v1/alerts", params={"q": "趣店"}, headers=ALERTS).json()["total"] == 1
        assert c.get("/v1/alerts", params={"phase": "burst"}, headers=ALERTS).json()["total"] == 2
        assert c.get("/v1/alerts", params={"phase": "early"}, headers=ALERTS).json()["total"] == 0
        bad_phase = c.get("/v1/alerts", params={"phase": "late"}, headers=ALERTS)
        assert bad_phase.status_code == 422 and "phase" in bad_phase.text
        assert c.get("/v1/alerts", params={"min_severity": 101}, headers=ALERTS).status_code == 422
        assert c.get("/v1/alerts", params={"before": "zz"}, headers=ALERTS).status_code == 400
        page = c.get("/v1/alerts", params={"size": 1}, headers=ALERTS).json()
        rest = c.get("/v1/alerts", params={"size": 1, "before": page["next"]}, headers=ALERTS).json()
        assert {page["alerts"][0]["id"], rest["alerts"][0]["id"]} == {a1.id, a2.id}

        got = c.get(f"/v1/alerts/{a1.id}", headers=ALERTS).json()
        assert got["status"] == "open" and got["volume"] == 6 and got["kind"] == "rumour"
        assert c.get("/v1/alerts/nope", headers=ALERTS).status_code == 404

        ack = c.post(f"/v1/alerts/{a1.id}/acknowledge", json={"note": "looking"}, headers=ALERTS)
        assert ack.status_code == 200, ack.text
        assert ack.json()["status"] == "acknowledged" and ack.json()["acknowledged_by"] not in (None, "alerter")
        assert ack.json()["acknowledged_at"] and ack.json()["history"][-1]["note"] == "looking"
        again = c.post(f"/v1/alerts/{a1.id}/acknowledge", headers=ALERTS)
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        res = c.post(f"/v1/alerts/{a1.id}/resolve", headers=ALERTS).json()
        assert res["status"] == "resolved" and res["resolved_by"] and res["resolved_at"]
        # Elasticsearch shows the new status at once (written with refresh)
        assert c.get("/v1/alerts", params={"status": "resolved"}, headers=ALERTS).json()["alerts"][0]["id"] == a1.id
        reo = c.post(f"/v1/alerts/{a1.id}/reopen", headers=ALERTS).json()
        assert reo["status"] == "open" and reo["reopened"] == 1
        assert [h["action"] for h in reo["history"]] == ["open", "acknowledge", "resolve", "reopen"]
        assert c.post(f"/v1/alerts/{a1.id}/resolve", headers=READER).status_code == 403


def test_subscriptions_crud_validation_and_masked_secrets(settings, rclient, es, live_server):
    with live_server(create_gateway(settings)) as gw, httpx.Client(base_url=gw.url, timeout=30) as c:
        body = {"name": "PR team", "watchlist": {"platforms": ["Jiebei"], "keywords": ["跑路"], "min_severity": 40},
                "channel": {"type": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=x",
                            "secret": "SECabcdef"}, "schedule": {"mode": "digest", "every_minutes": 15}}
        made = c.post("/v1/subscriptions", json=body, headers=ALERTS)
        assert made.status_code == 201, made.text
        sub = made.json()
        assert sub["watchlist"]["platforms"] == ["jiebei"] and sub["channel"]["secret"] == "***"
        assert c.get("/v1/subscriptions", headers=ALERTS).json()["subscriptions"][0]["id"] == sub["id"]
        bad = c.post("/v1/subscriptions", json={**body, "schedule": {"mode": "digest"}}, headers=ALERTS)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("schedule")
        bad = c.post("/v1/subscriptions", json={**body, "channel": {"type": "pager"}}, headers=ALERTS)
        assert bad.status_code == 422 and any(e["field"].startswith("channel") for e in bad.json()["errors"])
        body["channel"] = {"type": "email", "to": ["risk@example.com"]}
        body["schedule"] = {"mode": "immediate"}
        put = c.put(f"/v1/subscriptions/{sub['id']}", json=body, headers=ALERTS).json()
        assert put["channel"]["type"] == "email" and put["created_at"] == sub["created_at"]
        assert c.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=ALERTS).json()["deliveries"] == []
        assert c.delete(f"/v1/subscriptions/{sub['id']}", headers=ALERTS).status_code == 204
        assert c.get(f"/v1/subscriptions/{sub['id']}", headers=ALERTS).status_code == 404
        assert c.get("/v1/subscriptions", headers=READER).status_code == 403


def _read_events(lines, n: int) -> list[dict]:
    """Parse SSE lines until ``n`` events arrived."""
    out: list[dict] = []
    cur: dict = {}
    for line in lines:
        if line == "":
            if "data" in cur:
                out.append(cur)
                if len(out) == n:
                    return out
            cur = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            cur[field] = value.lstrip(" ")
    return out


def test_sse_stream_live_then_resumed_after_disconnect(settings, rclient, es, alert_index, live_server,
                                                       monkeypatch):
    monkeypatch.setattr(alerts_router, "KEEPALIVE_S", 0.5)
    engine = engine_for(rclient, settings)
    with live_server(create_gateway(settings)) as gw, httpx.Client(base_url=gw.url, timeout=30) as c:
        assert c.get("/v1/alerts/stream").status_code == 401
        assert c.get("/v1/alerts/stream", headers={**ALERTS, "Last-Event-ID": "x"}).status_code == 400
        with c.stream("GET", "/v1/alerts/stream", headers=ALERTS) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            assert next(lines) == "retry: 3000"  # the stream's starting point is now fixed
            alert = open_alert(engine, "lakala", "拉卡拉", "s")
            engine.store.transition(alert.id, "acknowledge", "test")
            first = _read_events(lines, 2)
        assert [e["event"] for e in first] == ["alert.opened", "alert.acknowledged"]
        assert orjson.loads(first[0]["data"])["alert"]["id"] == alert.id
        # while disconnected, two more changes happen
        engine.store.transition(alert.id, "resolve", "test")
        engine.store.transition(alert.id, "reopen", "test")
        with c.stream("GET", "/v1/alerts/stream", headers={**ALERTS, "Last-Event-ID": first[-1]["id"]}) as r:
            resumed = _read_events(r.iter_lines(), 2)
        assert [e["event"] for e in resumed] == ["alert.resolved", "alert.reopened"]
        assert resumed[0]["id"] > first[-1]["id"]
        assert orjson.loads(resumed[1]["data"])["alert"]["reopened"] == 1
        # resuming from before the stream's oldest entry says so
        rclient.xtrim(f"{settings.stream_prefix}:al:events", maxlen=1)
        with c.stream("GET", "/v1/alerts/stream", params={"last_event_id": "1-0"}, headers=ALERTS) as r:
            gap = _read_events(r.iter_lines(), 1)
        assert gap[0]["event"] == "gap"
