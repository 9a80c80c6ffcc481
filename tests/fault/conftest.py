"""Fixtures of the fault suite: per-test key/index prefixes, worker processes that are always stopped.

The session Redis and Elasticsearch (tests/conftest.py) serve tests that only kill workers or put a
proxy in front of Elasticsearch; tests that stop a server start a private one (harness.PrivateRedis,
harness.PrivateES) so nothing else running on the machine notices.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from elasticsearch import Elasticsearch

from tests.fault.harness import WorkerProcess
from trustscope.settings import Settings


@pytest.fixture()
def prefix() -> str:
    return f"f{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def spawn(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``python -m services.<name>``; every process started is stopped after the test."""
    started: list[WorkerProcess] = []

    def _spawn(name: str, settings: Settings, **extra: str) -> WorkerProcess:
        w = WorkerProcess(name, settings, tmp_path, extra).start()
        started.append(w)
        return w

    yield _spawn
    for w in started:
        w.stop()


def cleanup_redis(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
    except redis.RedisError:
        pass
    finally:
        client.close()


def cleanup_es(es: Elasticsearch, prefix: str) -> None:
    try:
        names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
        if names:
            es.indices.delete(index=",".join(names), ignore_unavailable=True)
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-docs")
    except Exception:  # noqa: BLE001 - best effort: the node may be the one a test stopped
        pass


@pytest.fixture()
def cleanup(prefix: str) -> Iterator[Callable[..., Any]]:
    targets: list[tuple[str, Any]] = []
    yield lambda kind, target: targets.append((kind, target))
    for kind, target in targets:
        if kind == "redis":
            cleanup_redis(target, prefix)
        else:
            cleanup_es(target, prefix)
