"""A bounded in-process cache of values that belong to a day (finished days' counts, baselines).

Why bucketed by day rather than one LRU/FIFO dict: the engine asks for days near the stream's
latest day (a review's weak-share window, its platform's burst baseline). A flat cache with an
entry cap keeps filling with days nobody asks for any more until it reaches the cap, so its size,
and the cost of every lookup in it (a larger dict of tuple keys: more cache misses), grew with the
length of the stream (docs/benchmarks.md, "Integrity, fifth session"). Buckets let whole days
older than ``keep_days`` before the latest day go at once; ``max_entries`` still bounds the worst
case (the oldest days go first). A value that is dropped is read again from the shared store when
it is needed: the cache holds only values that no longer change, so what it returns never depends
on what it kept.
"""

from __future__ import annotations

from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class DayCache(Generic[K, V]):
    """``(day, key) -> value``; days before ``latest - keep_days`` are dropped by ``advance``."""

    __slots__ = ("keep_days", "max_entries", "_days", "_size", "_latest")

    def __init__(self, keep_days: int, max_entries: int) -> None:
        if keep_days < 0 or max_entries <= 0:
            raise ValueError("keep_days must be >= 0 and max_entries > 0")
        self.keep_days = keep_days
        self.max_entries = max_entries
        self._days: dict[int, dict[K, V]] = {}
        self._size = 0
        self._latest: int | None = None

    def __len__(self) -> int:
        return self._size

    def days(self) -> list[int]:
        """The days that hold at least one value (oldest first)."""
        return sorted(self._days)

    def get(self, day: int, key: K) -> V | None:
        bucket = self._days.get(day)
        return None if bucket is None else bucket.get(key)

    def bucket(self, day: int) -> dict[K, V] | None:
        """The day's values (read only: for many lookups of one day at once)."""
        return self._days.get(day)

    def put(self, day: int, key: K, value: V) -> None:
        bucket = self._days.get(day)
        if bucket is None:
            bucket = self._days[day] = {}
        if key not in bucket:
            self._size += 1
        bucket[key] = value
        if self._size > self.max_entries:
            self._shrink()

    def advance(self, latest_day: int) -> None:
        """The stream reached ``latest_day``: drop the days older than ``keep_days`` before it."""
        if self._latest is not None and latest_day <= self._latest:
            return
        self._latest = latest_day
        cutoff = latest_day - self.keep_days
        for day in [d for d in self._days if d < cutoff]:
            self._size -= len(self._days.pop(day))

    def clear(self) -> None:
        """Drop every value (the next lookups read the shared store again)."""
        self._days.clear()
        self._size = 0

    def _shrink(self) -> None:
        """Over the entry cap: drop whole days, oldest first, but never the newest one."""
        while self._size > self.max_entries and len(self._days) > 1:
            self._size -= len(self._days.pop(min(self._days)))
        if self._size > self.max_entries:  # a single day larger than the cap: drop it too
            self.clear()
