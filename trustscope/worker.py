"""A small, synchronous stream worker: read a micro-batch, process it, forward and acknowledge.

A stage implements ``process(messages) -> outputs``. The worker adds everything around it:
consumer-group set-up, claiming a dead consumer's messages, micro-batching by size and time,
isolating a poison message when a batch fails (each message is retried alone, the good ones go on),
dead-lettering after ``max_deliveries``, graceful shutdown on SIGTERM/SIGINT, logs and metrics.

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
from typing import Protocol

import redis

from trustscope.bus import Message, StreamBus, parse_taps
from trustscope.observability import (
    STAGE_BATCH_SECONDS,
    STAGE_BATCH_SIZE,
    STAGE_MESSAGES,
    STREAM_BACKLOG,
    get_logger,
)
from trustscope.settings import Settings

log = get_logger("trustscope.worker")

Outputs = list[Mapping[str, str]]


class Stage(Protocol):
    """What a pipeline stage provides to the worker."""

    name: str
    source: str
    dest: str | None

    def process(self, messages: Sequence[Message]) -> Outputs:
        """Outputs for ``dest`` (if any); raise to leave the whole batch pending."""
        ...


def default_consumer_name(stage: str) -> str:
    return f"{stage}-{socket.gethostname()}-{os.getpid()}"


class StreamWorker:
    def __init__(self, stage: Stage, bus: StreamBus, settings: Settings, consumer: str | None = None,
                 batch_size: int | None = None) -> None:
        self.stage = stage
        self.bus = bus
        self.group = stage.name
        self.consumer = consumer or settings.consumer_name or default_consumer_name(stage.name)
        self.batch_size = batch_size or settings.batch_size
        self.batch_wait_ms = settings.batch_wait_ms
        self.stop_event = threading.Event()
        self.log = log.bind(stage=stage.name, consumer=self.consumer)

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: object) -> None:
            self.log.info("worker.stopping", signal=signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def run(self, max_idle_s: float | None = None) -> None:
        """Loop until stopped (or until idle for ``max_idle_s``, for tests and batch drains)."""
        self.bus.ensure_group(self.stage.source, self.group)
        self.log.info("worker.started", source=self.stage.source, dest=self.stage.dest)
        idle_since = time.monotonic()
        while not self.stop_event.is_set():
            try:
                handled = self.run_once()
            except redis.ConnectionError as exc:
                self.log.warning("worker.redis_unavailable", error=str(exc))
                self.stop_event.wait(1.0)
                continue
            if handled:
                idle_since = time.monotonic()
            elif max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                break
        self.log.info("worker.stopped")

    def run_once(self) -> int:
        """Handle one micro-batch; returns how many messages it took."""
        batch = self.bus.read_batch(self.stage.source, self.group, self.consumer, self.batch_size,
                                    self.batch_wait_ms)
        if not batch:
            STREAM_BACKLOG.labels(self.stage.source).set(self.bus.backlog(self.stage.source))
            return 0
        STAGE_BATCH_SIZE.labels(self.stage.name).observe(len(batch))
        started = time.perf_counter()
        try:
            outputs = self.stage.process(batch)
        except Exception as exc:  # noqa: BLE001 - any failure: isolate the bad message(s)
            self.log.warning("worker.batch_failed", size=len(batch), error=repr(exc))
            self._process_one_by_one(batch)
        else:
            self.bus.forward(self.stage.source, self.group, batch, self.stage.dest, outputs)
            STAGE_MESSAGES.labels(self.stage.name, "ok").inc(len(batch))
        STAGE_BATCH_SECONDS.labels(self.stage.name).observe(time.perf_counter() - started)
        return len(batch)

    def _process_one_by_one(self, batch: Sequence[Message]) -> None:
        for message in batch:
            try:
                outputs = self.stage.process([message])
            except Exception as exc:  # noqa: BLE001
                failures = self.bus.record_failure(message)
                if failures >= self.bus.max_deliveries:
                    self.bus.dead_letter(self.group, message, repr(exc), failures)
                    STAGE_MESSAGES.labels(self.stage.name, "dead_letter").inc()
                    self.log.error("worker.dead_letter", message_id=message.id, failures=failures,
                                   error=repr(exc))
                else:
                    STAGE_MESSAGES.labels(self.stage.name, "retry").inc()
                    self.log.warning("worker.message_failed", message_id=message.id,
                                     failures=failures, error=repr(exc))
            else:
                self.bus.forward(self.stage.source, self.group, [message], self.stage.dest, outputs)
                STAGE_MESSAGES.labels(self.stage.name, "ok").inc()


def serve(stage_factory: "StageFactory", settings: Settings | None = None) -> None:
    """Process entry point shared by the worker services: logging, metrics, Redis, signals, loop."""
    from prometheus_client import start_http_server

    from trustscope.intake import redis_client
    from trustscope.observability import configure_logging
    from trustscope.settings import get_settings

    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    client = redis_client(settings)
    bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms,
                    taps=parse_taps(settings.stream_taps), tap_maxlen=settings.stream_tap_maxlen)
    stage = stage_factory(settings, client)
    worker = StreamWorker(stage, bus, settings)
    worker.install_signal_handlers()
    worker.run()


class StageFactory(Protocol):
    def __call__(self, settings: Settings, client: redis.Redis) -> Stage: ...
