"""Repair tools for the stream pipeline: status per stage, bulk replay of dead letters by filter,
and removal of dead consumers from the groups.

Library functions (no HTTP, no CLI) so the ``trustscope pipeline`` commands and the gateway's admin
router share one implementation. Every mutating function has a dry run that reports exactly what it
would do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from trustscope.bus import DEAD_LETTER, DeadLetter, StreamBus

# (input stream, consumer group = stage name, output stream) in pipeline order
STAGES: tuple[tuple[str, str, str | None], ...] = (
    ("ingest", "sentiment", "scored"),
    ("scored", "integrity", "verified"),
    ("verified", "indexer", None),
)
PAGE = 500


def _dec(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(slots=True)
class ConsumerInfo:
    name: str
    pending: int
    idle_ms: int
    inactive_ms: int | None = None  # Redis >= 7.2: since the consumer last did anything


@dataclass(slots=True)
class StageStatus:
    stage: str
    stream: str
    length: int  # entries in the stream (acknowledged ones are deleted: the stage's backlog)
    lag: int  # entries the group has not read yet
    pending: int  # read, not acknowledged
    oldest_pending_idle_ms: int
    consumers: list[ConsumerInfo] = field(default_factory=list)


@dataclass(slots=True)
class PipelineStatus:
    stages: list[StageStatus]
    dead_letters: int
    dead_by_reason: dict[str, int]
    dead_by_stage: dict[str, int]

    @property
    def largest_backlog(self) -> int:
        return max((s.length for s in self.stages), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "largest_backlog": self.largest_backlog}


def _group(bus: StreamBus, stream: str, group: str) -> dict[str, Any] | None:
    try:
        groups = bus.client.xinfo_groups(bus.key(stream))
    except Exception as exc:  # noqa: BLE001 - "no such key": the stream was never created
        if "no such key" in str(exc).lower():
            return None
        raise
    for g in groups:
        if _dec(g["name"]) == group:
            return g
    return None


def stage_status(bus: StreamBus, stream: str, group: str) -> StageStatus:
    key = bus.key(stream)
    length = int(bus.client.xlen(key))
    g = _group(bus, stream, group)
    if g is None:
        return StageStatus(group, stream, length, length, 0, 0)
    pending = int(g.get("pending") or 0)
    lag = g.get("lag")
    consumers = [
        ConsumerInfo(_dec(c["name"]), int(c.get("pending") or 0), int(c.get("idle") or 0),
                     int(c["inactive"]) if c.get("inactive") is not None else None)
        for c in bus.client.xinfo_consumers(key, group)
    ]
    oldest = 0
    if pending:
        first = bus.client.xpending_range(key, group, min="-", max="+", count=1)
        oldest = int(first[0]["time_since_delivered"]) if first else 0
    return StageStatus(group, stream, length, int(lag) if lag is not None else max(0, length - pending),
                       pending, oldest, consumers)


def stage_backlogs(bus: StreamBus) -> dict[str, int]:
    """The entry count of every stage's input stream, in one round trip."""
    pipe = bus.client.pipeline(transaction=False)
    for stream, _group, _dest in STAGES:
        pipe.xlen(bus.key(stream))
    return {stream: int(n) for (stream, _group, _dest), n in zip(STAGES, pipe.execute(), strict=True)}


def largest_backlog(bus: StreamBus) -> int:
    """The largest entry count of any stage's input stream (for back-pressure: the first stream
    alone stays short while a later stage, e.g. the indexer during an outage, backs up)."""
    return max(stage_backlogs(bus).values())


def iter_dead_letters(bus: StreamBus) -> Iterator[DeadLetter]:
    after = "-"
    while True:
        page = bus.dead_letters(count=PAGE, after=after)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].id


def pipeline_status(bus: StreamBus) -> PipelineStatus:
    """Lag, backlog, pending and consumers of every stage, and the dead letters by reason and stage."""
    stages = [stage_status(bus, stream, group) for stream, group, _ in STAGES]
    reasons: Counter[str] = Counter()
    by_stage: Counter[str] = Counter()
    total = 0
    for d in iter_dead_letters(bus):
        total += 1
        reasons[d.reason] += 1
        by_stage[d.group] += 1
    return PipelineStatus(stages, total, dict(reasons.most_common()), dict(by_stage.most_common()))


@dataclass(slots=True)
class DeadLetterFilter:
    """Which dead letters a replay takes; every given criterion must hold (None = any)."""

    reason: str | None = None  # exact reason code, e.g. "document_parsing_exception"
    stage: str | None = None  # the consumer group that gave up: sentiment | integrity | indexer
    since: float | None = None  # failed_at >= since (unix seconds)
    until: float | None = None  # failed_at < until
    error_contains: str | None = None

    def matches(self, d: DeadLetter) -> bool:
        return ((self.reason is None or d.reason == self.reason)
                and (self.stage is None or d.group == self.stage)
                and (self.since is None or d.failed_at >= self.since)
                and (self.until is None or d.failed_at < self.until)
                and (self.error_contains is None or self.error_contains in d.error))


@dataclass(slots=True)
class ReplayReport:
    dry_run: bool
    matched: int
    replayed: int
    by_reason: dict[str, int]
    by_stage: dict[str, int]
    ids: list[str]  # the dead letters' ids (first 1,000)


def replay_dead_letters(bus: StreamBus, flt: DeadLetterFilter | None = None, dry_run: bool = True,
                        limit: int | None = None) -> ReplayReport:
    """Put matching dead letters back on their streams (and off the dead-letter stream).

    Each one goes back to the stream it failed on, so it passes only through the stages it had not
    passed yet; the writes downstream are idempotent, so a replay never duplicates a document.
    """
    flt = flt or DeadLetterFilter()
    chosen: list[DeadLetter] = []
    for d in iter_dead_letters(bus):
        if flt.matches(d):
            chosen.append(d)
            if limit is not None and len(chosen) >= limit:
                break
    replayed = 0
    if not dry_run:
        for start in range(0, len(chosen), PAGE):
            page = chosen[start:start + PAGE]
            pipe = bus.client.pipeline(transaction=True)
            for d in page:
                pipe.xadd(bus.key(d.stream), d.fields)
                pipe.xdel(bus.key(DEAD_LETTER), d.id)
            results = pipe.execute()
            replayed += sum(1 for n in results[1::2] if int(n))
    return ReplayReport(dry_run, len(chosen), replayed,
                        dict(Counter(d.reason for d in chosen).most_common()),
                        dict(Counter(d.group for d in chosen).most_common()),
                        [d.id for d in chosen[:1000]])


@dataclass(slots=True)
class RemovedConsumer:
    stage: str
    consumer: str
    idle_ms: int


def remove_dead_consumers(bus: StreamBus, idle_ms: int = 3_600_000, dry_run: bool = True) -> list[RemovedConsumer]:
    """Delete consumers idle longer than ``idle_ms`` that hold no pending message.

    A consumer with pending messages is never removed (XGROUP DELCONSUMER would drop its pending
    entries); the claim timer hands those to a live consumer first, after which it qualifies.
    """
    removed: list[RemovedConsumer] = []
    for stream, group, _ in STAGES:
        st = stage_status(bus, stream, group)
        for c in st.consumers:
            quiet = c.inactive_ms if c.inactive_ms is not None and c.inactive_ms >= 0 else c.idle_ms
            if c.pending == 0 and quiet >= idle_ms:
                if not dry_run:
                    bus.client.xgroup_delconsumer(bus.key(stream), group, c.name)
                removed.append(RemovedConsumer(group, c.name, quiet))
    return removed


def to_json(obj: Any) -> bytes:
    return orjson.dumps(obj if isinstance(obj, (dict, list)) else asdict(obj))
