"""A small, synchronous stream worker: read a micro-batch, process it, forward and acknowledge.

A stage implements ``process(messages) -> outputs`` (or a ``BatchResult`` that also names messages
refused for their own sake). The worker adds everything around it: consumer-group set-up, claiming
a dead consumer's messages, micro-batching by size and time, isolating a poison message when a
batch fails (each message is retried alone, the good ones go on), dead-lettering after
``max_deliveries``, graceful shutdown on SIGTERM/SIGINT, logs, metrics and readiness.

Outages are not message failures (trustscope/resilience.py). When Redis or Elasticsearch cannot
serve the worker, it keeps the batch it holds, stops reading, waits with capped exponential backoff
and jitter, keeps its messages' claim fresh (XCLAIM JUSTID: the delivery count does not grow, so
neither the claim timer nor the dead-letter limit sees the outage), reports not-ready and retries
the same batch until the dependency is back. One log line when a dependency goes down, one when it
recovers.

Synchronous on purpose: the work is CPU-bound (a model) or one bulk request, a worker process handles
one batch at a time, and scaling out is running more processes in the same consumer group.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import redis

from trustscope.bus import Message, Rejection, StreamBus, parse_taps
from trustscope.observability import (
    DEAD_LETTERS,
    OUTAGE_RETRIES,
    STAGE_BATCH_SECONDS,
    STAGE_BATCH_SIZE,
    STAGE_MESSAGES,
    STREAM_BACKLOG,
    STREAM_LAG,
    STREAM_PENDING,
    WORKER_READY,
    get_logger,
)
from trustscope.resilience import REDIS, Backoff, DependencyHealth, dependency_of, short_reason
from trustscope.settings import Settings

log = get_logger("trustscope.worker")

Outputs = list[Mapping[str, str]]
METRICS_EVERY_S = 5.0  # how often an idle or busy worker refreshes its lag/pending gauges


@dataclass(slots=True)
class BatchResult:
    """What a stage returns when some messages are refused for their own sake (not retried)."""

    outputs: Outputs
    rejected: dict[str, tuple[str, str]] = field(default_factory=dict)  # message id -> (reason, detail)


class Stage(Protocol):
    """What a pipeline stage provides to the worker."""

    name: str
    source: str
    dest: str | None

    def process(self, messages: Sequence[Message]) -> Outputs | BatchResult:
        """Outputs for ``dest`` (if any); raise to leave the whole batch pending."""
        ...


def default_consumer_name(stage: str) -> str:
    return f"{stage}-{socket.gethostname()}-{os.getpid()}"


@dataclass(slots=True)
class _Held:
    """A batch the worker owns until it is committed; survives outages in memory."""

    messages: list[Message]
    outputs: Outputs | None = None  # set once processed
    done: list[Message] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    commit_tried: bool = False  # a commit whose reply was lost may have run: check before redoing


class StreamWorker:
    def __init__(self, stage: Stage, bus: StreamBus, settings: Settings, consumer: str | None = None,
                 batch_size: int | None = None) -> None:
        self.stage = stage
        self.bus = bus
        self.group = stage.name
        self.consumer = consumer or settings.consumer_name or default_consumer_name(stage.name)
        self.batch_size = batch_size or settings.batch_size
        self.batch_wait_ms = settings.batch_wait_ms
        self.claim_idle_ms = settings.claim_idle_ms
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.health = DependencyHealth(stage.name, tuple(getattr(stage, "dependencies", (REDIS,))))
        self.backoff = Backoff(settings.outage_backoff_base_ms / 1000, settings.outage_backoff_max_ms / 1000)
        self.min_retry_s = float(getattr(stage, "min_retry_s", 0.0))
        self._held: _Held | None = None
        self._metrics_at = 0.0
        self.log = log.bind(stage=stage.name, consumer=self.consumer)

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: object) -> None:
            self.log.info("worker.stopping", signal=signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    # --- the loop ---------------------------------------------------------------------------
    def run(self, max_idle_s: float | None = None) -> None:
        """Loop until stopped (or until idle for ``max_idle_s``, for tests and batch drains)."""
        while not self.stop_event.is_set():
            try:
                self.bus.ensure_group(self.stage.source, self.group)
                break
            except Exception as exc:  # noqa: BLE001 - only dependency errors are waited out
                if not self._outage(exc):
                    raise
        self._set_ready(True)
        self.log.info("worker.started", source=self.stage.source, dest=self.stage.dest)
        idle_since = time.monotonic()
        while not self.stop_event.is_set():
            try:
                handled = self.run_once()
            except Exception as exc:  # noqa: BLE001
                if not self._outage(exc):
                    raise
                idle_since = time.monotonic()
                continue
            self._recovered()
            if handled:
                idle_since = time.monotonic()
            elif max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                break
        self._set_ready(False)
        self.log.info("worker.stopped")

    def run_once(self) -> int:
        """Handle one micro-batch (the held one first); returns how many messages it took."""
        if self._held is None:
            batch = self.bus.read_batch(self.stage.source, self.group, self.consumer, self.batch_size,
                                        self.batch_wait_ms)
            self._refresh_gauges(force=not batch)
            if not batch:
                return 0
            self._held = _Held(batch)
            STAGE_BATCH_SIZE.labels(self.stage.name).observe(len(batch))
        held = self._held
        if held.outputs is None:
            started = time.perf_counter()
            self._process(held)
            STAGE_BATCH_SECONDS.labels(self.stage.name).observe(time.perf_counter() - started)
        self._commit(held)
        self._held = None
        self._refresh_gauges()
        return len(held.messages)

    # --- processing ---------------------------------------------------------------------------
    def _process(self, held: _Held) -> None:
        """Fill ``held`` with outputs, acknowledged and refused messages; dependency errors escape."""
        batch = held.messages
        try:
            result = self.stage.process(batch)
        except Exception as exc:  # noqa: BLE001 - any failure of the batch: isolate the bad message(s)
            if dependency_of(exc):
                raise
            self.log.warning("worker.batch_failed", size=len(batch), error=short_reason(exc))
            self._process_one_by_one(held)
            return
        outputs, rejected = (result.outputs, result.rejected) if isinstance(result, BatchResult) else (result, {})
        held.outputs = list(outputs)
        held.rejected = [Rejection(m, *rejected[m.id]) for m in batch if m.id in rejected]
        held.done = [m for m in batch if m.id not in rejected]

    def _process_one_by_one(self, held: _Held) -> None:
        outputs: Outputs = []
        done: list[Message] = []
        rejected: list[Rejection] = []
        retry = 0
        for message in held.messages:
            try:
                result = self.stage.process([message])
            except Exception as exc:  # noqa: BLE001
                if dependency_of(exc):
                    raise  # the whole batch is held and redone after the outage
                failures = self.bus.record_failure(message)
                if failures >= self.bus.max_deliveries:
                    message.deliveries = failures
                    rejected.append(Rejection(message, type(exc).__name__, repr(exc)))
                else:
                    retry += 1
                continue
            if isinstance(result, BatchResult):
                if message.id in result.rejected:
                    rejected.append(Rejection(message, *result.rejected[message.id]))
                    continue
                result = result.outputs
            outputs.extend(result)
            done.append(message)
        if retry:  # one line per batch, not per message
            STAGE_MESSAGES.labels(self.stage.name, "retry").inc(retry)
            self.log.warning("worker.messages_failed", failed=retry, of=len(held.messages))
        held.outputs, held.done, held.rejected = outputs, done, rejected

    def _commit(self, held: _Held) -> None:
        """Forward, acknowledge and dead-letter in one transaction (redone safely after a lost reply)."""
        source = self.stage.source
        if held.commit_tried:
            ids = [m.id for m in held.done] + [r.message.id for r in held.rejected]
            if ids and not self.bus.still_pending(source, self.group, ids):
                return  # the transaction ran before the connection dropped
        held.commit_tried = True
        self.bus.commit(source, self.group, held.done, self.stage.dest, held.outputs or [], held.rejected)
        if held.done:
            STAGE_MESSAGES.labels(self.stage.name, "ok").inc(len(held.done))
        if held.rejected:
            STAGE_MESSAGES.labels(self.stage.name, "dead_letter").inc(len(held.rejected))
            reasons: dict[str, int] = {}
            for r in held.rejected:
                DEAD_LETTERS.labels(self.stage.name, r.reason).inc()
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
            self.log.error("worker.dead_lettered", count=len(held.rejected), reasons=reasons,
                           first=held.rejected[0].detail[:300])

    # --- outages ----------------------------------------------------------------------------
    def _outage(self, exc: BaseException) -> bool:
        """Wait out a dependency error with backoff; False when ``exc`` is not one."""
        dependency = dependency_of(exc)
        if dependency is None:
            return False
        self.health.down(dependency, short_reason(exc))
        self._set_ready(False)
        OUTAGE_RETRIES.labels(self.stage.name, dependency).inc()
        delay = self.backoff.next_delay()
        if self._held is not None and self._held.outputs is None:
            delay = max(delay, self.min_retry_s)  # the stage may have half-applied the batch
        self._wait_holding(delay)
        return True

    def _wait_holding(self, delay: float) -> None:
        """Sleep ``delay`` (stoppable), keeping the held messages' claim fresh meanwhile."""
        deadline = time.monotonic() + delay
        beat = max(0.05, self.claim_idle_ms / 3000)
        while not self.stop_event.is_set():
            self._touch_held()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop_event.wait(min(left, beat))

    def _touch_held(self) -> None:
        held = self._held
        if held is None or held.commit_tried:
            return
        try:
            self.bus.touch(self.stage.source, self.group, self.consumer, [m.id for m in held.messages])
        except redis.RedisError:
            pass  # Redis itself is down: nobody can claim them either

    def _recovered(self) -> None:
        if not self.health.healthy:
            self.health.all_up()
        if not self.ready.is_set():
            self._set_ready(True)
        self.backoff.reset()

    def _set_ready(self, ready: bool) -> None:
        (self.ready.set if ready else self.ready.clear)()
        WORKER_READY.labels(self.stage.name).set(1 if ready else 0)

    def _refresh_gauges(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._metrics_at < METRICS_EVERY_S:
            return
        if force and now - self._metrics_at < 1.0:
            return
        self._metrics_at = now
        info = self.bus.group_info(self.stage.source, self.group)
        STREAM_BACKLOG.labels(self.stage.source).set(info["length"])
        STREAM_LAG.labels(self.stage.name).set(info["lag"])
        STREAM_PENDING.labels(self.stage.name).set(info["pending"])

    def status(self) -> dict[str, object]:
        """Readiness for /readyz: whether the loop takes work, and which dependency is down."""
        return {"stage": self.stage.name, "consumer": self.consumer, "ready": self.ready.is_set(),
                "dependencies_down": sorted(self.health.snapshot())}


def serve(stage_factory: "StageFactory", settings: Settings | None = None) -> None:
    """Process entry point shared by the worker services: logging, metrics, Redis, signals, loop."""
    from trustscope.bus import redis_from_settings
    from trustscope.observability import WorkerHTTP, configure_logging
    from trustscope.settings import get_settings

    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    http = WorkerHTTP(settings.metrics_port) if settings.metrics_port else None
    client = redis_from_settings(settings)
    bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms,
                    taps=parse_taps(settings.stream_taps), tap_maxlen=settings.stream_tap_maxlen)
    stage = _build_with_retry(stage_factory, settings, client)
    worker = StreamWorker(stage, bus, settings)
    if http is not None:
        http.status = worker.status
    worker.install_signal_handlers()
    worker.run()
    if http is not None:
        http.close()


def _build_with_retry(stage_factory: "StageFactory", settings: Settings, client: redis.Redis) -> Stage:
    """Build the stage, waiting out a dependency that is not up yet (ES still starting, say)."""
    from trustscope.resilience import DependencyHealth as _Health

    health = _Health("startup", ())
    backoff = Backoff(settings.outage_backoff_base_ms / 1000, settings.outage_backoff_max_ms / 1000)
    while True:
        try:
            stage = stage_factory(settings, client)
        except Exception as exc:  # noqa: BLE001
            dependency = dependency_of(exc)
            if dependency is None:
                raise
            health.down(dependency, short_reason(exc))
            time.sleep(backoff.next_delay())
            continue
        health.all_up()
        return stage


class StageFactory(Protocol):
    def __call__(self, settings: Settings, client: redis.Redis) -> Stage: ...
