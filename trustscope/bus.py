"""The stream bus: Redis Streams with consumer groups, at-least-once, with a dead-letter stream.

Each pipeline stage reads its input stream as one consumer of a consumer group, and for each message
either forwards results to the next stream *and* acknowledges the input in one MULTI/EXEC
transaction (so a crash can never lose a message between the two), or leaves it pending. Pending
messages of a consumer that died are claimed by another with XAUTOCLAIM once they have been idle for
``claim_idle_ms``. A message that has been delivered or has failed ``max_deliveries`` times goes to
the dead-letter stream, where an admin can read it and replay it.

Acknowledged messages are also deleted (XDEL): each stream has exactly one consumer group, so a
message nobody will read again is only memory, and XLEN becomes the stage's backlog, which the ingest
API uses for back-pressure.

Why not a framework (arq, celery): they model jobs, not ordered streams with consumer groups; the
few Redis commands below are the whole mechanism, and are easier to reason about in one page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

DEAD_LETTER = "dead"


@dataclass(slots=True)
class Message:
    """One stream entry as a consumer sees it."""

    stream: str
    id: str
    fields: dict[str, str]
    deliveries: int = 1

    def json(self, name: str = "doc") -> Any:
        return orjson.loads(self.fields[name])


@dataclass(slots=True)
class DeadLetter:
    id: str
    stream: str
    group: str
    original_id: str
    fields: dict[str, str]
    error: str
    deliveries: int
    failed_at: float
    extra: dict[str, str] = field(default_factory=dict)
    reason: str = "error"  # a short code to filter on ("mapper_parsing_exception", "ValueError", ...)


@dataclass(slots=True)
class Rejection:
    """A message refused for its own sake (mapping refusal, poison payload): dead-lettered at once."""

    message: Message
    reason: str  # short code, a metrics label and the dead letter's filter key
    detail: str


class StreamIdError(ValueError):
    """A string that is not a Redis stream id (``<ms>`` or ``<ms>-<seq>``, each a 64-bit unsigned)."""

    def __init__(self, value: str, name: str = "id") -> None:
        self.value = value
        self.name = name
        super().__init__(f"{name}: '{value[:60]}' is not a stream id (expected <ms>-<seq>, digits)")


_STREAM_ID = re.compile(r"\d{1,20}(?:-\d{1,20})?")
_U64 = 2**64 - 1
_HASH_TAG = re.compile(r"^[^{]*\{[^}]+\}")  # Redis hashes the first non-empty {...} of a key


def check_stream_id(value: str, name: str = "id") -> str:
    """Return ``value`` if it is a complete stream id, else raise StreamIdError.

    Checked here, before any Redis command: XRANGE/XDEL answer a ResponseError to a malformed id,
    which a caller cannot tell from an outage; and ``(`` or ``-``/``+`` smuggled into an id would
    change the range a query reads.
    """
    if not isinstance(value, str) or not _STREAM_ID.fullmatch(value):
        raise StreamIdError(str(value), name)
    ms, _, seq = value.partition("-")
    if int(ms) > _U64 or (seq and int(seq) > _U64):
        raise StreamIdError(value, name)
    return value


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_key(mid: str) -> tuple[int, int]:
    ms, _, seq = mid.partition("-")
    return int(ms), int(seq or 0)


def _decode_fields(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_decode(k): _decode(v) for k, v in raw.items()}


def parse_taps(spec: str) -> dict[str, list[str]]:
    """``"verified:alerting,scored:x"`` -> ``{"verified": ["alerting"], "scored": ["x"]}``."""
    out: dict[str, list[str]] = {}
    for item in (s.strip() for s in spec.split(",")):
        if item:
            src, sep, tap = item.partition(":")
            if not sep or not src.strip() or not tap.strip():
                raise ValueError(f"a stream tap looks like source:tap, got {item!r}")
            out.setdefault(src.strip(), []).append(tap.strip())
    return out


class StreamBus:
    """Stream names are short ('ingest', 'scored'); keys are ``{prefix}:stream:{name}``."""

    def __init__(self, client: redis.Redis, prefix: str = "ts", max_deliveries: int = 5,
                 claim_idle_ms: int = 30_000, taps: Mapping[str, Sequence[str]] | None = None,
                 tap_maxlen: int = 100_000) -> None:
        self.client = client
        self.prefix = prefix
        self.max_deliveries = max_deliveries
        self.claim_idle_ms = claim_idle_ms
        # A tap copies every message forwarded to a stream onto another, capped, stream in the same
        # transaction: a second reader (the alerter) gets its own stream and group, because a
        # stream's one group deletes what it acknowledges.
        self.taps = {k: list(v) for k, v in (taps or {}).items()}
        self.tap_maxlen = tap_maxlen

    # --- names -----------------------------------------------------------------------------
    def key(self, stream: str) -> str:
        return f"{self.prefix}:stream:{stream}"

    def _failures_key(self, stream: str) -> str:
        return f"{self.prefix}:failures:{stream}"

    # --- producing -------------------------------------------------------------------------
    def publish(self, stream: str, messages: Iterable[Mapping[str, str]]) -> list[str]:
        pipe = self.client.pipeline(transaction=True)
        for fields in messages:
            pipe.xadd(self.key(stream), dict(fields))
        return [_decode(i) for i in pipe.execute()]

    def backlog(self, stream: str) -> int:
        """Messages not yet acknowledged by the stream's consumer group (read or not)."""
        return int(self.client.xlen(self.key(stream)))

    # --- consuming -------------------------------------------------------------------------
    def ensure_group(self, stream: str, group: str) -> None:
        try:
            self.client.xgroup_create(self.key(stream), group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def claim_stale(self, stream: str, group: str, consumer: str, count: int) -> list[Message]:
        """Take over messages another consumer read but did not acknowledge in time."""
        key = self.key(stream)
        result = self.client.xautoclaim(key, group, consumer, min_idle_time=self.claim_idle_ms,
                                        start_id="0-0", count=count)
        entries = result[1]
        messages = [Message(stream, _decode(mid), _decode_fields(f)) for mid, f in entries if f]
        # Entries deleted while pending come back without fields: acknowledge them away.
        gone = [_decode(mid) for mid, f in entries if not f]
        if len(result) > 2:
            gone += [_decode(mid) for mid in result[2]]
        if gone:
            self.client.xack(key, group, *gone)
        if messages:
            pending = self.client.xpending_range(key, group, min=messages[0].id, max=messages[-1].id,
                                                 count=len(messages) * 2 + 10)
            counts = {_decode(p["message_id"]): int(p["times_delivered"]) for p in pending}
            for m in messages:
                m.deliveries = counts.get(m.id, 1)
        return messages

    def read(self, stream: str, group: str, consumer: str, count: int, block_ms: int) -> list[Message]:
        """New messages for this consumer, waiting up to ``block_ms`` for the first one."""
        result = self.client.xreadgroup(group, consumer, {self.key(stream): ">"}, count=count,
                                        block=block_ms or None)
        out: list[Message] = []
        for _key, entries in result or []:
            out.extend(Message(stream, _decode(mid), _decode_fields(f)) for mid, f in entries)
        return out

    def read_batch(self, stream: str, group: str, consumer: str, size: int, wait_ms: int) -> list[Message]:
        """A micro-batch bounded by ``size`` messages and by ``wait_ms`` of waiting.

        Stale messages of dead consumers come first, so a crash delays work but never loses it.
        Once the first messages are in, each further read waits only a short linger (a tenth of
        ``wait_ms``): under load the batch still fills, while a trickle is not held back a whole
        ``wait_ms`` at every stage (that was most of the ingest-to-searchable time at 100 docs/s).
        """
        batch = self.claim_stale(stream, group, consumer, size)
        deadline = time.monotonic() + wait_ms / 1000.0
        linger_ms = max(5, wait_ms // 10)
        while len(batch) < size:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                break
            got = self.read(stream, group, consumer, size - len(batch),
                            min(remaining_ms, linger_ms) if batch else remaining_ms)
            if not got:
                break
            batch.extend(got)
        return batch

    def forward(self, stream: str, group: str, done: Sequence[Message], dest: str | None,
                outputs: Sequence[Mapping[str, str]]) -> None:
        """Publish ``outputs`` to ``dest`` and acknowledge ``done`` in one transaction."""
        self.commit(stream, group, done, dest, outputs)

    def commit(self, stream: str, group: str, done: Sequence[Message], dest: str | None,
               outputs: Sequence[Mapping[str, str]], rejected: Sequence[Rejection] = ()) -> None:
        """``forward`` plus dead letters, all in one transaction: a retry after a lost reply can
        tell from the pending list whether it ran (``still_pending``)."""
        if not done and not outputs and not rejected:
            return
        key = self.key(stream)
        pipe = self.client.pipeline(transaction=True)
        if dest is not None:
            for fields in outputs:
                pipe.xadd(self.key(dest), dict(fields))
                for tap in self.taps.get(dest, ()):
                    pipe.xadd(self.key(tap), dict(fields), maxlen=self.tap_maxlen, approximate=True)
        for r in rejected:
            pipe.xadd(self.key(DEAD_LETTER), self._dead_entry(group, r.message, r.detail,
                                                              r.message.deliveries, r.reason))
        ids = [m.id for m in done] + [r.message.id for r in rejected]
        if ids:
            pipe.xack(key, group, *ids)
            pipe.xdel(key, *ids)
            pipe.hdel(self._failures_key(stream), *ids)
        pipe.execute()

    def still_pending(self, stream: str, group: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are still unacknowledged in ``group``."""
        if not ids:
            return set()
        ordered = sorted(ids, key=_id_key)
        pending = self.client.xpending_range(self.key(stream), group, min=ordered[0], max=ordered[-1],
                                             count=len(ids) * 4 + 16)
        wanted = set(ids)
        return {m for m in (_decode(p["message_id"]) for p in pending) if m in wanted}

    def touch(self, stream: str, group: str, consumer: str, ids: Sequence[str]) -> None:
        """Reset the idle time of messages this consumer holds (XCLAIM JUSTID: the delivery count
        does not grow), so a worker waiting out an outage keeps its batch instead of having the
        claim timer hand it around and count deliveries."""
        if ids:
            self.client.xclaim(self.key(stream), group, consumer, 0, list(ids), justid=True)

    def group_info(self, stream: str, group: str) -> dict[str, int]:
        """lag (entries not yet read by the group), pending (read, not acknowledged), length."""
        key = self.key(stream)
        length = int(self.client.xlen(key))
        for g in self.client.xinfo_groups(key):
            if _decode(g["name"]) == group:
                lag = g.get("lag")
                pending = int(g.get("pending") or 0)
                return {"lag": int(lag) if lag is not None else max(0, length - pending),
                        "pending": pending, "length": length}
        return {"lag": length, "pending": 0, "length": length}

    def record_failure(self, message: Message) -> int:
        """Count a processing failure; returns failures so far (crashes count via deliveries)."""
        failures = int(self.client.hincrby(self._failures_key(message.stream), message.id, 1))
        return max(failures, message.deliveries)

    @staticmethod
    def _dead_entry(group: str, message: Message, error: str, deliveries: int, reason: str) -> dict[str, str]:
        return {
            "stream": message.stream,
            "group": group,
            "original_id": message.id,
            "fields": orjson.dumps(message.fields).decode(),
            "error": error[:2000],
            "reason": reason[:100],
            "deliveries": str(deliveries),
            "failed_at": f"{time.time():.3f}",
        }

    def dead_letter(self, group: str, message: Message, error: str, deliveries: int,
                    reason: str = "error") -> None:
        """Move a message that keeps failing out of the way, keeping everything needed to replay it."""
        key = self.key(message.stream)
        entry = self._dead_entry(group, message, error, deliveries, reason)
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.key(DEAD_LETTER), entry)
        pipe.xack(key, group, message.id)
        pipe.xdel(key, message.id)
        pipe.hdel(self._failures_key(message.stream), message.id)
        pipe.execute()

    # --- dead letters ----------------------------------------------------------------------
    def dead_letters(self, count: int = 100, after: str = "-") -> list[DeadLetter]:
        """Up to ``count`` dead letters after id ``after`` (``-``: from the start); StreamIdError if
        ``after`` is neither ``-`` nor a stream id."""
        start = after if after == "-" else f"({check_stream_id(after, 'after')}"
        if after == f"{_U64}-{_U64}":  # nothing can follow the last id (XRANGE refuses the range)
            return []
        entries = self.client.xrange(self.key(DEAD_LETTER), min=start, max="+", count=count)
        out = []
        for mid, raw in entries:
            f = _decode_fields(raw)
            out.append(DeadLetter(
                id=_decode(mid), stream=f.get("stream", ""), group=f.get("group", ""),
                original_id=f.get("original_id", ""), fields=orjson.loads(f.get("fields", "{}")),
                error=f.get("error", ""), deliveries=int(f.get("deliveries", "0")),
                failed_at=float(f.get("failed_at", "0")), reason=f.get("reason", "error"),
            ))
        return out

    def replay_dead_letter(self, dead_id: str) -> str | None:
        """Put a dead letter back on its stream; returns the new message id, None if unknown.

        StreamIdError if ``dead_id`` is not a stream id."""
        check_stream_id(dead_id, "dead_id")
        entries = self.client.xrange(self.key(DEAD_LETTER), min=dead_id, max=dead_id, count=1)
        if not entries:
            return None
        f = _decode_fields(entries[0][1])
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.key(f["stream"]), orjson.loads(f["fields"]))
        pipe.xdel(self.key(DEAD_LETTER), dead_id)
        new_id, _ = pipe.execute()
        return _decode(new_id)

    def delete_dead_letter(self, dead_id: str) -> bool:
        """Drop one dead letter; False if unknown, StreamIdError if ``dead_id`` is not a stream id."""
        check_stream_id(dead_id, "dead_id")
        return bool(self.client.xdel(self.key(DEAD_LETTER), dead_id))


def redis_from_settings(settings: Any) -> Any:
    """The Redis client the workers use: one node, or a Redis Cluster (``TS_REDIS_CLUSTER``).

    On a cluster every key a transaction or script touches must hash to one slot: give the stream
    prefix a hash tag (``TS_STREAM_PREFIX={ts}``), so all ``{ts}:...`` keys live together.
    """
    if getattr(settings, "redis_cluster", False):
        from redis.cluster import RedisCluster

        prefix = str(getattr(settings, "stream_prefix", ""))
        if not _HASH_TAG.search(prefix):
            raise ValueError(f"TS_STREAM_PREFIX '{prefix}' has no hash tag: on a Redis Cluster it must "
                             "be like '{ts}' so every pipeline key hashes to one slot")

        return RedisCluster.from_url(settings.redis_url, decode_responses=False)
    return redis.Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30,
                                socket_timeout=30, socket_connect_timeout=5)
