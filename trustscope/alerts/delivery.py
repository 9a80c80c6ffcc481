"""The dispatcher: alert events to subscriptions, each with its own queue, worker and time limits.

- One reader follows the alert-event stream (cursor kept in Redis) and, for every event marked
  ``notify``, appends it to the outbox (immediate) or the digest buffer of each matching, enabled
  subscription. Both are Redis lists, so a restart loses nothing queued.
- Every subscription has its own asyncio task. It takes the head of its outbox, sends it with
  retries (exponential backoff, ``delivery_max_attempts``, each attempt bounded by
  ``delivery_timeout_s``), logs the outcome in the subscription's delivery log, then removes it. A
  slow or dead endpoint therefore holds up only its own subscription's queue.
- A digest subscription sends what its buffer holds every ``every_minutes``, as one message.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from trustscope.alerts.channels import DeliveryError, send
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import AlertEvent
from trustscope.alerts.subscriptions import Subscription
from trustscope.observability import get_logger
from trustscope.settings import Settings

log = get_logger("trustscope.alerts.delivery")
_MAX_DIGEST = 500


def _d(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class Dispatcher:
    def __init__(self, settings: Settings, config: AlertConfig, backoff_s: float = 1.0,
                 poll_s: float = 0.2, reload_s: float = 2.0, minute_s: float = 60.0) -> None:
        self.settings = settings
        self.cfg = config
        self.backoff_s = backoff_s
        self.poll_s = poll_s
        self.reload_s = reload_s
        self.minute_s = minute_s  # tests shorten a digest's minute
        self.stop = asyncio.Event()
        self.tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}  # sub id -> (config json, worker)
        self.subs: dict[str, Subscription] = {}

    @property
    def _cursor(self) -> str:
        return f"{self.cfg.key}:dispatch:cursor"

    async def run(self) -> None:
        self.redis = aioredis.from_url(self.settings.redis_url)
        self.http = httpx.AsyncClient(timeout=self.settings.delivery_timeout_s)
        log.info("dispatcher.started")
        try:
            await asyncio.gather(self._follow_events(), self._reconcile())
        finally:
            for _, task in self.tasks.values():
                task.cancel()
            await asyncio.gather(*(t for _, t in self.tasks.values()), return_exceptions=True)
            await self.http.aclose()
            await self.redis.aclose()
            log.info("dispatcher.stopped")

    # --- subscriptions -------------------------------------------------------------------------
    async def _load(self) -> None:
        raw = await self.redis.hgetall(self.cfg.subs_key)
        current = {_d(k): _d(v) for k, v in raw.items()}
        self.subs = {k: Subscription.model_validate_json(v) for k, v in current.items()}
        for sid, (blob, task) in list(self.tasks.items()):
            if current.get(sid) != blob or task.done():
                task.cancel()
                del self.tasks[sid]
        for sid, blob in current.items():
            sub = self.subs[sid]
            if sid not in self.tasks and sub.enabled:
                worker = self._digest_worker(sub) if sub.schedule.mode == "digest" else self._immediate_worker(sub)
                self.tasks[sid] = (blob, asyncio.create_task(worker, name=f"sub-{sid}"))

    async def _reconcile(self) -> None:
        while not self.stop.is_set():
            try:
                await self._load()
            except Exception as exc:  # noqa: BLE001 - Redis away: keep the workers, try again
                log.warning("dispatcher.reload_failed", error=str(exc))
            await self._sleep(self.reload_s)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    # --- fan-out ---------------------------------------------------------------------------------
    async def _follow_events(self) -> None:
        await self._load()
        cursor = _d(await self.redis.get(self._cursor) or b"$")
        if cursor == "$":  # first start: from now on, not the whole history
            last = await self.redis.xrevrange(self.cfg.events_key, count=1)
            cursor = _d(last[0][0]) if last else "0-0"
        while not self.stop.is_set():
            try:
                got = await self.redis.xread({self.cfg.events_key: cursor}, count=200, block=500)
            except Exception as exc:  # noqa: BLE001
                log.warning("dispatcher.read_failed", error=str(exc))
                await self._sleep(1.0)
                continue
            for _key, entries in got or []:
                pipe = self.redis.pipeline(transaction=True)
                for mid, fields in entries:
                    cursor = _d(mid)
                    data = fields.get(b"data") or fields.get("data")
                    event = AlertEvent.model_validate_json(data)
                    if not event.notify:
                        continue
                    item = orjson.dumps({"event_id": cursor, "event": orjson.loads(data)})
                    for sub in self.subs.values():
                        if sub.enabled and sub.watchlist.matches(event.alert):
                            key = self.cfg.digest_key(sub.id) if sub.schedule.mode == "digest" else self.cfg.outbox_key(sub.id)
                            pipe.rpush(key, item)
                            pipe.ltrim(key, -_MAX_DIGEST, -1)
                pipe.set(self._cursor, cursor)
                await pipe.execute()

    # --- per-subscription workers ----------------------------------------------------------------
    async def _immediate_worker(self, sub: Subscription) -> None:
        key = self.cfg.outbox_key(sub.id)
        while not self.stop.is_set():
            head = await self.redis.lindex(key, 0)
            if head is None:
                await self._sleep(self.poll_s)
                continue
            item = orjson.loads(head)
            await self._deliver(sub, [item])
            await self.redis.lpop(key)

    async def _digest_worker(self, sub: Subscription) -> None:
        key = self.cfg.digest_key(sub.id)
        period = (sub.schedule.every_minutes or 60) * self.minute_s
        while not self.stop.is_set():
            await self._sleep(period)
            raw = await self.redis.lrange(key, 0, _MAX_DIGEST - 1)
            if raw:
                await self._deliver(sub, [orjson.loads(r) for r in raw])
                await self.redis.ltrim(key, len(raw), -1)

    async def _deliver(self, sub: Subscription, items: list[dict[str, Any]]) -> None:
        events = [AlertEvent.model_validate(i["event"]) for i in items]
        delivery_id = "dl_" + secrets.token_hex(8)
        started = time.monotonic()
        attempts = 0
        error: str | None = None
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.delivery_max_attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=max(60.0, self.backoff_s)),
            retry=retry_if_exception(lambda e: not isinstance(e, DeliveryError) or e.retry),
            reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    await asyncio.wait_for(send(sub.channel, events, self.http, self.settings, delivery_id),
                                           timeout=self.settings.delivery_timeout_s)
            status = "delivered"
        except Exception as exc:  # noqa: BLE001 - recorded in the delivery log
            status, error = "failed", f"{type(exc).__name__}: {exc}"[:500]
            log.warning("delivery.failed", subscription=sub.id, attempts=attempts, error=error)
        entry = {"delivery_id": delivery_id, "at": time.time(), "status": status, "attempts": attempts,
                 "duration_ms": round((time.monotonic() - started) * 1000, 1), "channel": sub.channel.type,
                 "event_ids": [i["event_id"] for i in items], "alert_ids": sorted({e.alert.id for e in events}),
                 "digest": sub.schedule.mode == "digest", "error": error}
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self.cfg.sub_log_key(sub.id), orjson.dumps(entry))
        pipe.ltrim(self.cfg.sub_log_key(sub.id), 0, 199)
        await pipe.execute()
