"""Telling a dependency outage from a message failure, and waiting one out.

Why this matters: a message that fails because Redis or Elasticsearch is unreachable did nothing
wrong. Counting such failures toward the dead-letter limit parks every in-flight document during a
three-minute outage; logging each one floods the disk. So a worker classifies each error
(``dependency_of``): a transient dependency error (connection refused, timeout, HTTP 5xx / 429)
puts the worker in an outage state: it stops taking work, keeps the batch it holds, retries with
capped exponential backoff and jitter (``Backoff``), logs one line when the dependency goes down
and one when it comes back (``DependencyHealth``), and reports not-ready. Only errors of the
message itself (a mapping refusal, a poison payload) count toward ``max_deliveries``.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, SerializationError, TransportError
from elasticsearch import ApiError

from trustscope.observability import DEPENDENCY_UP, get_logger

log = get_logger("trustscope.resilience")

REDIS = "redis"
ELASTICSEARCH = "elasticsearch"

# HTTP statuses that mean "Elasticsearch cannot take this now", not "this document is wrong".
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_REDIS_TRANSIENT: tuple[type[BaseException], ...] = (
    redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, redis.ReadOnlyError,
    redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    # a Redis Cluster slot without a master (mid-failover) or still moving after several redirects
    redis.exceptions.SlotNotCoveredError, redis.exceptions.MovedError, redis.exceptions.AskError,
)


class DependencyDown(Exception):
    """Raised by a stage when a dependency cannot serve it now; the batch stays with the worker."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


def dependency_of(exc: BaseException) -> str | None:
    """The dependency a transient error belongs to, or None when the error is the message's own."""
    if isinstance(exc, DependencyDown):
        return exc.dependency
    if isinstance(exc, _REDIS_TRANSIENT):
        return REDIS
    # UNBLOCKED: a blocked XREADGROUP whose stream moved away (a Redis Cluster resharding migrated
    # the key): read again, from the slot's new owner
    if isinstance(exc, redis.ResponseError) and str(exc).startswith(
            ("LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "UNBLOCKED")):
        return REDIS
    if isinstance(exc, ApiError):
        return ELASTICSEARCH if exc.status_code in TRANSIENT_STATUSES else None
    if isinstance(exc, SerializationError):
        return None  # a document that cannot be encoded is the document's fault
    if isinstance(exc, (TransportConnectionError, ConnectionTimeout, TransportError)):
        return ELASTICSEARCH
    return None


def short_reason(exc: BaseException) -> str:
    """One line naming the error without a traceback (client tracebacks are what filled disks)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with jitter: base·2^n, at most ``cap``, each wait in [d/2, d].

    Half-jitter rather than full jitter: replicas still spread out, but no wait is near zero, so a
    worker facing a dead dependency can never spin.
    """

    base_s: float = 0.5
    cap_s: float = 30.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        d = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return d / 2 + self.rng.uniform(0, d / 2)

    def reset(self) -> None:
        self.attempt = 0


class DependencyHealth:
    """Up/down state of each dependency of one stage: one log line and one gauge per change."""

    def __init__(self, stage: str, dependencies: tuple[str, ...] = (REDIS,), logger: Any = None) -> None:
        self.stage = stage
        self.log = logger or log
        self._lock = threading.Lock()
        self._down: dict[str, tuple[float, str, int]] = {}  # name -> (since, reason, attempts)
        for name in dependencies:
            DEPENDENCY_UP.labels(stage, name).set(1)

    def down(self, dependency: str, reason: str) -> None:
        with self._lock:
            if dependency in self._down:
                since, first, attempts = self._down[dependency]
                self._down[dependency] = (since, first, attempts + 1)
                return
            self._down[dependency] = (time.monotonic(), reason, 1)
        DEPENDENCY_UP.labels(self.stage, dependency).set(0)
        self.log.warning("dependency.degraded", stage=self.stage, dependency=dependency, reason=reason)

    def up(self, dependency: str) -> None:
        with self._lock:
            state = self._down.pop(dependency, None)
        if state is None:
            return
        since, _reason, attempts = state
        DEPENDENCY_UP.labels(self.stage, dependency).set(1)
        self.log.warning("dependency.recovered", stage=self.stage, dependency=dependency,
                    down_s=round(time.monotonic() - since, 1), failed_attempts=attempts)

    def all_up(self) -> None:
        for name in list(self._down):
            self.up(name)

    @property
    def healthy(self) -> bool:
        return not self._down

    def snapshot(self) -> dict[str, str]:
        """Dependency -> first reason it went down (empty when everything is up)."""
        with self._lock:
            return {name: reason for name, (_s, reason, _a) in self._down.items()}
