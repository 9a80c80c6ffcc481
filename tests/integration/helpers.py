"""Helpers shared by the integration tests: API keys, a live HTTP server, a pipeline runner."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from trustscope.bus import StreamBus
from trustscope.settings import Settings

API_KEYS = "ingest-key:ingest,reader-key:reader,alerts-key:alerts,admin-key:admin"
INGEST = {"Authorization": "Bearer ingest-key"}
READER = {"Authorization": "Bearer reader-key"}
ADMIN = {"Authorization": "Bearer admin-key"}
ALERTS = {"Authorization": "Bearer alerts-key"}
#: the index templates a test's index prefix may have created (documents, alerts)
TEMPLATES = ("docs", "alerts", "rollup")


def drop_keys(client: Any, prefix: str) -> None:
    """Delete a test's Redis keys (``prefix:*``)."""
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)


def drop_indices(es: Any, prefix: str) -> None:
    """Delete a test's indices and index templates (``prefix-*``)."""
    names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
    if names:  # destructive_requires_name: wildcards may not be deleted, names may
        es.indices.delete(index=",".join(names), ignore_unavailable=True)
    for template in TEMPLATES:
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-{template}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server on a loopback port, in a thread (real HTTP over a real socket)."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class Pipeline:
    """The three worker stages running in threads, each a real consumer of its Redis stream."""

    def __init__(self, settings: Settings, bus: StreamBus, stages: list[Any]) -> None:
        from trustscope.worker import StreamWorker

        self.workers = [StreamWorker(stage, bus, settings) for stage in stages]
        self.threads = [threading.Thread(target=w.run, daemon=True) for w in self.workers]

    def __enter__(self) -> Pipeline:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            w.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
