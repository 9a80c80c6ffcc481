"""Per-source poller state in Redis, shared by every replica and surviving restarts.

Keys, all under ``{stream_prefix}:poller:{source name}``:
- the hash itself: HTTP validators (etag, last_modified), the cursor (newest item time seen),
  next_due, and the last poll's status/error for operators;
- ``...:seen``: a sorted set of ``source_id + fingerprint`` scored by item time, so items inside the
  look-back window are not offered again (an edited item has a new fingerprint and is); it is
  pruned below the window, which keeps it as small as a feed;
- ``...:lock``: a lease with a random token, so two replicas never poll the same source at once.

Intake's own de-duplication stays the guarantee (a crash between publishing and saving state only
costs a few "duplicate" answers); this state is what keeps replicas and restarts from re-sending.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone

import redis

from trustscope.schemas import DocumentIn

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass(slots=True)
class SourceState:
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None  # ISO time of the newest item seen
    next_due: float = 0.0
    last_poll_at: float | None = None
    last_ok_at: float | None = None
    last_outcome: str | None = None
    last_error: str | None = None

    @property
    def cursor_time(self) -> datetime | None:
        return datetime.fromisoformat(self.cursor) if self.cursor else None


def fingerprint(item: DocumentIn) -> str:
    """Changes when anything the source says about the item changes."""
    return hashlib.sha256(item.model_dump_json().encode()).hexdigest()[:16]


def seen_member(item: DocumentIn) -> str:
    return f"{item.source_id}\x1f{fingerprint(item)}"


def _epoch(dt: datetime) -> float:
    return dt.astimezone(timezone.utc).timestamp()


class StateStore:
    def __init__(self, client: redis.Redis, stream_prefix: str) -> None:
        self.client = client
        self.prefix = f"{stream_prefix}:poller:"
        self._release = client.register_script(_RELEASE)
        self._refresh = client.register_script(_REFRESH)

    def key(self, name: str) -> str:
        return self.prefix + name

    # --- state -----------------------------------------------------------------------------
    def load(self, name: str) -> SourceState:
        raw = self.client.hgetall(self.key(name))
        values = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in raw.items()}  # type: ignore[union-attr]
        state = SourceState()
        for f in fields(SourceState):
            value = values.get(f.name)
            if value in (None, ""):
                continue
            setattr(state, f.name, float(value) if f.name in ("next_due", "last_poll_at", "last_ok_at")
                    else value)
        return state

    def next_due(self, name: str) -> float:
        value = self.client.hget(self.key(name), "next_due")
        return float(value) if value else 0.0

    def save(self, name: str, state: SourceState) -> None:
        mapping = {f.name: getattr(state, f.name) for f in fields(SourceState)}
        present = {k: str(v) for k, v in mapping.items() if v is not None}
        absent = [k for k, v in mapping.items() if v is None]
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key(name), mapping=present)  # type: ignore[arg-type]
        if absent:
            pipe.hdel(self.key(name), *absent)
        pipe.execute()

    # --- items already offered ---------------------------------------------------------------
    def unseen(self, name: str, items: Sequence[DocumentIn]) -> list[bool]:
        """For each item: True when this version of it has not been offered yet."""
        if not items:
            return []
        scores = self.client.zmscore(self.key(name) + ":seen", [seen_member(i) for i in items])
        return [s is None for s in scores]

    def mark_seen(self, name: str, items: Iterable[DocumentIn]) -> None:
        members = {seen_member(i): _epoch(i.created_at) for i in items}
        if members:
            self.client.zadd(self.key(name) + ":seen", members)

    def prune_seen(self, name: str, older_than: datetime) -> int:
        return int(self.client.zremrangebyscore(self.key(name) + ":seen", "-inf", f"({_epoch(older_than)}"))

    # --- lease -------------------------------------------------------------------------------
    def acquire(self, name: str, ttl_s: float) -> str | None:
        """A lease token, or None when another replica is polling this source now."""
        token = secrets.token_hex(12)
        if self.client.set(self.key(name) + ":lock", token, nx=True, px=int(ttl_s * 1000)):
            return token
        return None

    def refresh(self, name: str, token: str, ttl_s: float) -> bool:
        return bool(self._refresh(keys=[self.key(name) + ":lock"], args=[token, int(ttl_s * 1000)]))

    def release(self, name: str, token: str) -> None:
        self._release(keys=[self.key(name) + ":lock"], args=[token])

    def reset(self, name: str) -> None:
        """Forget everything about a source (the next poll sends what the source holds again)."""
        self.client.delete(self.key(name), self.key(name) + ":seen", self.key(name) + ":lock")
