"""The poll loop: for each due source, fetch, parse, drop what was already offered, submit through Intake.

One poll of one source, in order:
1. take the source's lease in Redis (another replica holding it means: not ours this time);
2. conditional GET with the validators of the last successful poll (304 -> done);
3. parse into documents, skipping bad items with a logged reason;
4. drop items older than the cursor minus the look-back window, and items whose exact version was
   offered before (the ``seen`` set), then submit the rest through ``Intake`` in chunks, waiting
   while the pipeline reports back-pressure;
5. only then save the new validators and cursor, so a crash or an error anywhere before means the
   next poll simply tries again (Intake's de-duplication absorbs any overlap).

Sources are polled concurrently by a small thread pool (``concurrency``): fetching is I/O-bound and
one slow source must not hold up the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import redis

from trustscope.intake import Backpressure, Intake
from trustscope.observability import INGEST_DOCUMENTS, get_logger
from trustscope.pollers import metrics
from trustscope.pollers.config import FeedSource, JsonSource, PollersConfig
from trustscope.pollers.feed import FeedError, parse_feed
from trustscope.pollers.fetch import FetchError, fetch, http_client
from trustscope.pollers.items import Parsed
from trustscope.pollers.jsonapi import parse_json
from trustscope.pollers.mapping import MappingError
from trustscope.pollers.state import SourceState, StateStore
from trustscope.schemas import DocumentIn
from trustscope.settings import Settings

log = get_logger("trustscope.pollers")
SUBMIT_CHUNK = 200  # documents per Intake call: one Redis round trip, bounded memory
#: Failures that describe the source (unreachable, not a feed, wrong shape): logged without a trace.
EXPECTED_ERRORS = (FetchError, FeedError, MappingError)


class Interrupted(Exception):
    """The poller is stopping; the poll is abandoned without saving its state."""


@dataclass(slots=True)
class PollResult:
    source: str
    outcome: str  # ok | not_modified | error | busy (another replica has it) | not_due | interrupted
    items: int = 0  # valid items in the response
    skipped: int = 0  # invalid items
    old: int = 0  # older than the cursor's window
    seen: int = 0  # this version already offered
    accepted: int = 0
    updated: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def sent(self) -> int:
        return self.accepted + self.updated + self.duplicates

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _format_cursor(dt: datetime, fmt: str) -> str:
    if fmt == "epoch":
        return str(int(dt.timestamp()))
    if fmt == "epoch_ms":
        return str(int(dt.timestamp() * 1000))
    return dt.isoformat().replace("+00:00", "Z")


class Poller:
    def __init__(self, config: PollersConfig, client: redis.Redis, settings: Settings,
                 intake: Intake | None = None, http: httpx.Client | None = None,
                 lock_ttl_s: float = 120.0) -> None:
        self.config = config
        self.settings = settings
        self.intake = intake or Intake(client, settings)
        self.store = StateStore(client, settings.stream_prefix)
        self._own_http = http is None
        self.http = http or http_client()
        self.lock_ttl_s = lock_ttl_s
        self.stop_event = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="poller")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- loop ----------------------------------------------------------------------------------
    def run(self, tick_s: float = 1.0) -> None:
        """Poll every source when it is due, until ``stop_event`` is set.

        Each tick starts the due sources that are not already being polled and does not wait for
        them, so a slow source (long timeouts, retries) never delays the others.
        """
        sources = self.config.enabled_sources
        log.info("poller.started", sources=[s.name for s in sources], concurrency=self.config.concurrency)
        in_flight: dict[str, Future[PollResult]] = {}
        while not self.stop_event.is_set():
            for name in [n for n, f in in_flight.items() if f.done()]:
                del in_flight[name]
            idle = [s for s in sources if s.name not in in_flight]
            try:
                due = self.due(idle)
            except redis.RedisError as exc:
                log.warning("poller.redis_unavailable", error=str(exc))
                due = []
            for cfg in due:
                in_flight[cfg.name] = self._pool.submit(self.poll_source, cfg)
            self.stop_event.wait(tick_s)
        for future in in_flight.values():  # they see stop_event and give up quickly
            future.result()
        log.info("poller.stopped")

    def due(self, sources: Sequence[FeedSource | JsonSource]) -> list[FeedSource | JsonSource]:
        """The sources whose ``next_due`` has passed (one Redis round trip)."""
        if not sources:
            return []
        pipe = self.store.client.pipeline(transaction=False)
        for cfg in sources:
            pipe.hget(self.store.key(cfg.name), "next_due")
        now = time.time()
        return [cfg for cfg, value in zip(sources, pipe.execute(), strict=True) if float(value or 0) <= now]

    def run_once(self, force: bool = False) -> list[PollResult]:
        """Poll the sources that are due (all of them with ``force``) and wait for them; returns
        what each poll did."""
        sources = self.config.enabled_sources
        due = sources if force else self.due(sources)
        futures = [self._pool.submit(self.poll_source, s, force) for s in due]
        return [f.result() for f in futures]

    # --- one source --------------------------------------------------------------------------
    def poll_source(self, cfg: FeedSource | JsonSource, force: bool = False) -> PollResult:
        result = PollResult(cfg.name, "busy")
        try:
            token = self.store.acquire(cfg.name, self.lock_ttl_s)
        except redis.RedisError as exc:
            result.outcome, result.error = "error", f"{type(exc).__name__}: {exc}"
            metrics.POLLS.labels(cfg.name, "error").inc()
            log.warning("poller.polled", source=cfg.name, outcome="error", error=result.error)
            return result
        if token is None:
            log.debug("poller.busy", source=cfg.name)
            return result
        started = time.monotonic()
        state = SourceState()
        try:
            state = self.store.load(cfg.name)
            if not force and state.next_due > time.time():
                result.outcome = "not_due"  # another replica polled it while we waited for the lease
                return result
            self._poll(cfg, state, token, result)
        except Interrupted:
            result.outcome = "interrupted"
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
            result.outcome = "error"
            result.error = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, EXPECTED_ERRORS):  # a bug or an outage, not a bad source: keep the trace
                log.error("poller.unexpected_error", source=cfg.name, exc_info=True)
        finally:
            result.seconds = round(time.monotonic() - started, 3)
            if result.outcome == "not_due":
                self.store.release(cfg.name, token)
            else:
                self._finish(cfg, state, token, result)
        return result

    def _finish(self, cfg: FeedSource | JsonSource, state: SourceState, token: str, result: PollResult) -> None:
        now = time.time()
        metrics.POLLS.labels(cfg.name, result.outcome).inc()
        level = "warning" if result.outcome == "error" else "info"
        getattr(log, level)("poller.polled", **{k: v for k, v in result.to_dict().items() if v is not None})
        try:
            if result.outcome != "interrupted":
                state.last_poll_at = now
                state.last_outcome = result.outcome
                state.last_error = result.error
                state.next_due = now + cfg.interval_s
                if result.outcome in ("ok", "not_modified"):
                    state.last_ok_at = now
                    metrics.LAST_SUCCESS.labels(cfg.name).set(now)
                self.store.save(cfg.name, state)
        except redis.RedisError as exc:
            log.warning("poller.state_not_saved", source=cfg.name, error=str(exc))
        finally:
            try:
                self.store.release(cfg.name, token)
            except redis.RedisError:
                pass  # the lease expires by itself

    def _poll(self, cfg: FeedSource | JsonSource, state: SourceState, token: str, result: PollResult) -> None:
        lookback = timedelta(seconds=cfg.lookback_s)
        cursor = state.cursor_time
        extra: dict[str, str] = {}
        if isinstance(cfg, JsonSource) and cfg.cursor_param and cursor is not None:
            extra[cfg.cursor_param] = _format_cursor(cursor - lookback, cfg.cursor_format)

        def on_retry(exc: BaseException, sleep_s: float) -> None:
            metrics.HTTP_RETRIES.labels(cfg.name).inc()
            self.store.refresh(cfg.name, token, self.lock_ttl_s + sleep_s)  # keep the lease while waiting
            log.info("poller.http_retry", source=cfg.name, error=str(exc) or type(exc).__name__,
                     sleep_s=round(sleep_s, 2))

        fetched = fetch(self.http, cfg, etag=state.etag, last_modified=state.last_modified,
                        extra_params=extra, stop_event=self.stop_event, on_retry=on_retry)
        if self.stop_event.is_set():
            raise Interrupted
        if fetched.not_modified:
            result.outcome = "not_modified"
            return
        parsed: Parsed = parse_feed(fetched.content, cfg) if isinstance(cfg, FeedSource) \
            else parse_json(fetched.content, cfg)
        result.items, result.skipped = len(parsed.items), len(parsed.skipped)
        metrics.ITEMS.labels(cfg.name, "skipped").inc(len(parsed.skipped))

        cutoff = cursor - lookback if cursor is not None else None
        fresh = [i for i in parsed.items if cutoff is None or i.created_at >= cutoff]
        result.old = len(parsed.items) - len(fresh)
        unseen = self.store.unseen(cfg.name, fresh)
        to_send = [i for i, new in zip(fresh, unseen, strict=True) if new]
        result.seen = len(fresh) - len(to_send)
        metrics.ITEMS.labels(cfg.name, "old").inc(result.old)
        metrics.ITEMS.labels(cfg.name, "seen").inc(result.seen)

        for start in range(0, len(to_send), SUBMIT_CHUNK):
            chunk = to_send[start:start + SUBMIT_CHUNK]
            self._wait_for_room(cfg, token)
            self._submit(cfg, chunk, result)
            self.store.mark_seen(cfg.name, chunk)

        # Everything offered: now the validators and the cursor may move on.
        state.etag = fetched.etag or state.etag
        state.last_modified = fetched.last_modified or state.last_modified
        if parsed.items:
            newest = max(i.created_at for i in parsed.items)
            if cursor is None or newest > cursor:
                state.cursor = newest.isoformat()
                cursor = newest
        if cursor is not None:
            self.store.prune_seen(cfg.name, cursor - lookback)
        result.outcome = "ok"

    def _submit(self, cfg: FeedSource | JsonSource, chunk: list[DocumentIn], result: PollResult) -> None:
        for outcome in self.intake.submit(chunk):
            INGEST_DOCUMENTS.labels(outcome.status).inc()
            metrics.ITEMS.labels(cfg.name, outcome.status).inc()
            if outcome.status == "accepted":
                result.accepted += 1
            elif outcome.status == "updated":
                result.updated += 1
            else:
                result.duplicates += 1

    def _wait_for_room(self, cfg: FeedSource | JsonSource, token: str) -> None:
        """Block while the pipeline's backlog is over its limit, keeping the source's lease alive."""
        while True:
            try:
                self.intake.check_backpressure()
                return
            except Backpressure as exc:
                metrics.BACKPRESSURE_WAITS.labels(cfg.name).inc()
                log.info("poller.backpressure", source=cfg.name, backlog=exc.backlog, limit=exc.limit,
                         wait_s=exc.retry_after)
                self.store.refresh(cfg.name, token, self.lock_ttl_s + exc.retry_after)
                if self.stop_event.wait(exc.retry_after):
                    raise Interrupted from exc
