"""Alerts in Redis (the source of truth for the lifecycle) and the stream of alert events.

- ``{p}:al:alert:{id}``: the alert as JSON. A lifecycle change (acknowledge, resolve) is a
  WATCH/MULTI transaction on it, so the engine and a person can never overwrite each other.
- ``{p}:al:active``: sorted set of open and acknowledged alerts by last change (auto-resolve sweep).
- ``{p}:al:events``: Redis stream of :class:`AlertEvent` (capped at ``events_maxlen``); its entry ids
  are the SSE event ids, so a client resumes with ``Last-Event-ID``.
- ``{p}:al:dirty``: alerts changed since they were last written to Elasticsearch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Literal

import orjson
import redis

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import Alert, AlertEvent, EventType


class TransitionError(ValueError):
    """The requested lifecycle change does not apply to the alert's current status."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class AlertStore:
    def __init__(self, client: redis.Redis, config: AlertConfig) -> None:
        self.client = client
        self.cfg = config

    # --- keys --------------------------------------------------------------------------------
    def alert_key(self, alert_id: str) -> str:
        return f"{self.cfg.key}:alert:{alert_id}"

    @property
    def events_key(self) -> str:
        return self.cfg.events_key

    @property
    def active_key(self) -> str:
        return f"{self.cfg.key}:active"

    @property
    def dirty_key(self) -> str:
        return f"{self.cfg.key}:dirty"

    # --- reading -----------------------------------------------------------------------------
    def get(self, alert_id: str) -> Alert | None:
        raw = self.client.get(self.alert_key(alert_id))
        return Alert.model_validate_json(raw) if raw else None

    def get_many(self, ids: Iterable[str]) -> list[Alert]:
        ids = list(ids)
        if not ids:
            return []
        return [Alert.model_validate_json(r) for r in self.client.mget([self.alert_key(i) for i in ids]) if r]

    def active_ids(self, older_than: float | None = None) -> list[str]:
        top = "+inf" if older_than is None else older_than
        return [m.decode() if isinstance(m, bytes) else m
                for m in self.client.zrangebyscore(self.active_key, "-inf", top)]

    # --- writing -----------------------------------------------------------------------------
    def _write(self, pipe: Any, alert: Alert, event: AlertEvent | None) -> None:
        alert.version += 1
        pipe.set(self.alert_key(alert.id), alert.model_dump_json(), ex=self.cfg.story_ttl_s * 10)
        if alert.status == "resolved":
            pipe.zrem(self.active_key, alert.id)
        else:
            pipe.zadd(self.active_key, {alert.id: time.time()})
        pipe.sadd(self.dirty_key, alert.id)
        if event is not None:
            pipe.xadd(self.events_key, {"type": event.type, "alert": alert.id, "data": event.model_dump_json()},
                      maxlen=self.cfg.events_maxlen, approximate=True)

    def save(self, alert: Alert, event: AlertEvent | None) -> None:
        pipe = self.client.pipeline(transaction=True)
        self._write(pipe, alert, event)
        pipe.execute()

    def transition(self, alert_id: str, action: Literal["acknowledge", "resolve", "reopen"], who: str,
                   note: str | None = None) -> tuple[Alert, AlertEvent] | None:
        """Acknowledge, resolve or reopen as ``who``; None if there is no such alert."""
        key = self.alert_key(alert_id)
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if not raw:
                        pipe.reset()
                        return None
                    alert = Alert.model_validate_json(raw)
                    event = apply_transition(alert, action, who, note)
                    pipe.multi()
                    self._write(pipe, alert, event)
                    pipe.execute()
                    return alert, event
                except redis.WatchError:
                    continue

    # --- events ------------------------------------------------------------------------------
    def events_after(self, last_id: str | None, count: int = 100) -> list[tuple[str, dict[str, str]]]:
        start = "-" if not last_id else f"({last_id}"
        entries = self.client.xrange(self.events_key, min=start, max="+", count=count)
        return [(_d(i), {_d(k): _d(v) for k, v in f.items()}) for i, f in entries]

    def dirty(self, count: int = 500) -> list[str]:
        return [_d(m) for m in self.client.srandmember(self.dirty_key, count) or []]

    def clean(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.client.srem(self.dirty_key, *ids)


def _d(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def apply_transition(alert: Alert, action: str, who: str, note: str | None = None) -> AlertEvent:
    """Change ``alert`` in place; raises :class:`TransitionError` when the action does not apply."""
    now = _now()
    etype: EventType
    if action == "acknowledge":
        if alert.status != "open":
            raise TransitionError(f"alert is {alert.status}; only an open alert can be acknowledged")
        alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, who
        etype = "alert.acknowledged"
    elif action == "resolve":
        if alert.status == "resolved":
            raise TransitionError("alert is already resolved")
        alert.status, alert.resolved_at, alert.resolved_by = "resolved", now, who
        etype = "alert.resolved"
    elif action == "reopen":
        if alert.status != "resolved":
            raise TransitionError(f"alert is {alert.status}; only a resolved alert can be reopened")
        alert.status, alert.resolved_at, alert.resolved_by = "open", None, None
        alert.acknowledged_at = alert.acknowledged_by = None
        alert.reopened += 1
        etype = "alert.reopened"
    else:
        raise TransitionError(f"unknown action {action!r}")
    alert.updated_at = now
    entry: dict[str, Any] = {"action": action, "by": who, "at": now.isoformat()}
    if note:
        entry["note"] = note[:500]
    alert.history = (alert.history + [entry])[-50:]
    return AlertEvent(type=etype, alert=alert, notify=etype == "alert.reopened", at=now)


def event_json(event: AlertEvent) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))
