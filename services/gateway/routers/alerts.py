"""Rumour and negative-sentiment alerts for risk teams (role ``risk_team``): list and filter them,
read one, acknowledge / resolve / reopen it (who and when are recorded), follow them live over
Server-Sent Events, and manage subscriptions (watchlist, channel, schedule) with their delivery logs.

The live stream, ``GET /v1/alerts/stream``, is ``text/event-stream``; each message is::

    id: <Redis stream id, e.g. 1764576000000-0>
    event: alert.opened | alert.updated | alert.acknowledged | alert.resolved | alert.reopened
    data: {"type": ..., "alert": {...the alert...}, "notify": bool, "at": ISO time}

A client that reconnects with ``Last-Event-ID`` (or ``?last_event_id=``) receives every event after
that id; when those were already trimmed away it first gets ``event: gap``. A comment line
(``: keepalive``) goes out every 15 s of silence. Alerts live in Redis (the truth for the lifecycle)
and in the ``{prefix}-alerts`` index (for listing and filtering).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
import redis.asyncio as aioredis
from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.gateway.deps import ES, RedisDep, SettingsDep, require_role, time_param
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.index import AlertIndices, index_alerts
from trustscope.alerts.store import AlertStore, TransitionError
from trustscope.alerts.stories import StoryStore
from trustscope.alerts.subscriptions import SubscriptionIn, SubscriptionStore
from trustscope.auth import RISK_TEAM, Principal
from trustscope.settings import Settings
from trustscope.web import ApiError

router = APIRouter(tags=["alerts"])
RiskTeam = Annotated[Principal, Depends(require_role(RISK_TEAM))]
KEEPALIVE_S = 15.0
Status = Literal["open", "acknowledged", "resolved"]
LevelName = Literal["low", "medium", "high", "critical"]


class Note(BaseModel):
    note: str | None = Field(None, max_length=500)


def _config(settings: Settings) -> AlertConfig:
    return AlertConfig.from_settings(settings)


def _who(principal: Principal) -> str:
    return f"{principal.label or principal.role}:{principal.key_id}"


# --- list and read -----------------------------------------------------------------------------
@router.get("/v1/alerts")
def list_alerts(
    es: ES, settings: SettingsDep, _p: RiskTeam,
    platform: Annotated[list[str] | None, Query(max_length=50)] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    kind: Literal["rumour", "negative"] | None = None,
    phase: Annotated[Literal["early", "burst"] | None,
                     Query(description="early: opened on the rumour model from the first post(s); "
                                       "burst: a volume burst against the platform's baseline")] = None,
    level: Annotated[list[LevelName] | None, Query()] = None,
    min_severity: Annotated[float, Query(ge=0, le=100)] = 0,
    q: Annotated[str | None, Query(max_length=200, description="phrase in the headline")] = None,
    since: str | None = None, until: str | None = None,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(description="page: the 'next' value of the previous page")] = None,
) -> dict[str, Any]:
    """Alerts, most recently changed first, filtered by platform, status, kind, phase, level,
    severity, headline phrase and last-change time."""
    flt: list[dict[str, Any]] = []
    if platform:
        flt.append({"terms": {"platform": [p.lower() for p in platform]}})
    if status:
        flt.append({"terms": {"status": status}})
    if kind:
        flt.append({"term": {"kind": kind}})
    if phase:
        flt.append({"term": {"phase": phase}})
    if level:
        flt.append({"terms": {"level": level}})
    if min_severity:
        flt.append({"range": {"severity": {"gte": min_severity}}})
    rng = {k: v.isoformat() for k, v in (("gte", time_param(since, "since")), ("lt", time_param(until, "until")))
           if v is not None}
    if rng:
        flt.append({"range": {"updated_at": rng}})
    must = [{"match_phrase": {"headline": q}}] if q else []
    body: dict[str, Any] = {"query": {"bool": {"filter": flt, "must": must}}, "size": size,
                            "sort": [{"updated_at": "desc"}, {"id": "asc"}], "track_total_hits": True}
    if before:
        try:
            after = orjson.loads(bytes.fromhex(before))
            if not isinstance(after, list) or len(after) != 2:
                raise ValueError
        except ValueError as exc:
            raise ApiError(400, "bad_parameter", "before: not a page token from this endpoint") from exc
        body["search_after"] = after
    indices = AlertIndices(settings.es_index_prefix)
    result = es.options(ignore_status=404).search(index=indices.read_alias, **body).body
    hits = result.get("hits", {}).get("hits", [])
    nxt = orjson.dumps(hits[-1]["sort"]).hex() if len(hits) == size else None
    return {"total": result.get("hits", {}).get("total", {}).get("value", 0),
            "alerts": [h["_source"] for h in hits], "next": nxt}


@router.get("/v1/alerts/stream", response_class=StreamingResponse, responses={200: {
    "description": "server-sent events: one `alert` event per new or changed alert",
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def stream_alerts(
    request: Request, settings: SettingsDep, _p: RiskTeam,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
    last_event_id_q: Annotated[str | None, Query(alias="last_event_id", max_length=40)] = None,
) -> StreamingResponse:
    """Server-Sent Events of every alert change, resumable with ``Last-Event-ID``."""
    resume = last_event_id or last_event_id_q
    if resume is not None and _parse_id(resume) is None:
        raise ApiError(400, "bad_parameter", "Last-Event-ID: expected a stream id like 1764576000000-0")
    client = _async_redis(request, settings)
    key = f"{_config(settings).key}:events"
    return StreamingResponse(_events(request, client, key, resume), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _parse_id(value: str) -> tuple[int, int] | None:
    ms, _, seq = value.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return None


def _async_redis(request: Request, settings: Settings) -> aioredis.Redis:
    client = getattr(request.app.state, "alerts_aredis", None)
    if client is None:
        client = aioredis.from_url(settings.redis_url)
        request.app.state.alerts_aredis = client
    return client


def _d(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def _events(request: Request, client: aioredis.Redis, key: str, resume: str | None) -> AsyncIterator[bytes]:
    gap = None
    if resume is None:  # a new client hears what happens from now on
        newest = await client.xrevrange(key, count=1)
        cursor = _d(newest[0][0]) if newest else "0-0"
    else:
        cursor = resume
        oldest = await client.xrange(key, count=1)
        if oldest and _parse_id(_d(oldest[0][0])) > _parse_id(resume):  # type: ignore[operator]
            gap = {"oldest": _d(oldest[0][0]), "requested": resume}
    yield b"retry: 3000\n\n"  # sent once the starting point is fixed
    if gap:
        yield b"event: gap\ndata: " + orjson.dumps(gap) + b"\n\n"
    while not await request.is_disconnected():
        got = await client.xread({key: cursor}, count=100, block=int(KEEPALIVE_S * 1000))
        if not got:
            yield b": keepalive\n\n"
            continue
        for _key, entries in got:
            for mid, fields in entries:
                cursor = _d(mid)
                f = {_d(k): _d(v) for k, v in fields.items()}
                yield (f"id: {cursor}\nevent: {f.get('type', 'alert')}\ndata: ".encode()
                       + f.get("data", "{}").encode() + b"\n\n")


@router.get("/v1/alerts/watch")
def list_watched(
    redis: RedisDep, settings: SettingsDep, _p: RiskTeam,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Stories the page budget held instead of paging (docs/alerts.md, "The page budget"), most
    recently held first: what each would have paged (``watch``: kind, phase, severity, reason) and
    the story itself, so a risk team sees what was not sent. Promoted or expired stories drop out."""
    stories = StoryStore(redis, _config(settings)).watched(platform.lower() if platform else None, size)
    return {"total": len(stories), "stories": [s.model_dump(mode="json") for s in stories]}


@router.get("/v1/alerts/{alert_id}")
def get_alert(redis: RedisDep, settings: SettingsDep, _p: RiskTeam, alert_id: str) -> dict[str, Any]:
    alert = AlertStore(redis, _config(settings)).get(alert_id)
    if alert is None:
        raise ApiError(404, "not_found", f"no alert with id '{alert_id}'")
    return alert.model_dump(mode="json")


def _alert_indices(request: Request, es: Any, settings: Settings) -> AlertIndices:
    """The alerts index, created (migrated) once per process before the gateway first writes to it:
    writing to a missing write alias would make Elasticsearch create a plain index of that name."""
    indices = AlertIndices(settings.es_index_prefix)
    if not getattr(request.app.state, "alerts_index_ready", False):
        indices.migrate(es)
        request.app.state.alerts_index_ready = True
    return indices


def _transition(request: Request, redis: Any, es: Any, settings: Settings, principal: Principal, alert_id: str,
                action: str, note: Note | None) -> dict[str, Any]:
    indices = _alert_indices(request, es, settings)
    store = AlertStore(redis, _config(settings))
    try:
        done = store.transition(alert_id, action, _who(principal), note.note if note else None)  # type: ignore[arg-type]
    except TransitionError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    if done is None:
        raise ApiError(404, "not_found", f"no alert with id '{alert_id}'")
    alert, _event = done
    index_alerts(es, indices, [alert], refresh=True)
    return alert.model_dump(mode="json")


@router.post("/v1/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, redis: RedisDep, es: ES, settings: SettingsDep, principal: RiskTeam, alert_id: str,
                note: Annotated[Note | None, Body()] = None) -> dict[str, Any]:
    """open -> acknowledged, recording who and when (409 from any other status)."""
    return _transition(request, redis, es, settings, principal, alert_id, "acknowledge", note)


@router.post("/v1/alerts/{alert_id}/resolve")
def resolve(request: Request, redis: RedisDep, es: ES, settings: SettingsDep, principal: RiskTeam, alert_id: str,
            note: Annotated[Note | None, Body()] = None) -> dict[str, Any]:
    """open | acknowledged -> resolved. The alerter reopens it if the story grows again."""
    return _transition(request, redis, es, settings, principal, alert_id, "resolve", note)


@router.post("/v1/alerts/{alert_id}/reopen")
def reopen(request: Request, redis: RedisDep, es: ES, settings: SettingsDep, principal: RiskTeam, alert_id: str,
           note: Annotated[Note | None, Body()] = None) -> dict[str, Any]:
    """resolved -> open, by hand."""
    return _transition(request, redis, es, settings, principal, alert_id, "reopen", note)


# --- subscriptions -----------------------------------------------------------------------------
def _subs(redis: Any, settings: Settings) -> SubscriptionStore:
    return SubscriptionStore(redis, _config(settings))


@router.get("/v1/subscriptions")
def list_subscriptions(redis: RedisDep, settings: SettingsDep, _p: RiskTeam) -> dict[str, Any]:
    return {"subscriptions": [s.public() for s in _subs(redis, settings).all()]}


@router.post("/v1/subscriptions", status_code=201)
def create_subscription(redis: RedisDep, settings: SettingsDep, principal: RiskTeam,
                        body: SubscriptionIn) -> dict[str, Any]:
    """A watchlist (platforms, keywords, min_severity, kinds), one channel and a schedule."""
    return _subs(redis, settings).create(body, _who(principal)).public()


@router.get("/v1/subscriptions/{sub_id}")
def get_subscription(redis: RedisDep, settings: SettingsDep, _p: RiskTeam, sub_id: str) -> dict[str, Any]:
    sub = _subs(redis, settings).get(sub_id)
    if sub is None:
        raise ApiError(404, "not_found", f"no subscription with id '{sub_id}'")
    return sub.public()


@router.put("/v1/subscriptions/{sub_id}")
def replace_subscription(redis: RedisDep, settings: SettingsDep, _p: RiskTeam, sub_id: str,
                         body: SubscriptionIn) -> dict[str, Any]:
    sub = _subs(redis, settings).replace(sub_id, body)
    if sub is None:
        raise ApiError(404, "not_found", f"no subscription with id '{sub_id}'")
    return sub.public()


@router.delete("/v1/subscriptions/{sub_id}", status_code=204)
def delete_subscription(redis: RedisDep, settings: SettingsDep, _p: RiskTeam, sub_id: str) -> None:
    if not _subs(redis, settings).delete(sub_id):
        raise ApiError(404, "not_found", f"no subscription with id '{sub_id}'")


@router.get("/v1/subscriptions/{sub_id}/deliveries")
def deliveries(redis: RedisDep, settings: SettingsDep, _p: RiskTeam, sub_id: str,
               count: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """The subscription's delivery log, newest first: status, attempts, duration, error."""
    store = _subs(redis, settings)
    if store.get(sub_id) is None:
        raise ApiError(404, "not_found", f"no subscription with id '{sub_id}'")
    return {"subscription": sub_id, "deliveries": store.deliveries(sub_id, count)}
