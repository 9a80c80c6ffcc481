"""The author's track record (model v4): how many of an account's labelled training posts were
rumours and how many were not, looked up by the profile's account key (``features.author_key``).

Why: in CED a third of the events come from accounts with more than one event, and such accounts
are mostly one-sided (a news account's posts, a rumour mill's). What an account posted before is
known when it posts again, so this is post-time evidence; an account the table has never seen
reads (0, 0), the same as having no record. The table is the training events' counts only, fitted
inside each fold in evaluation (out of fold for the stackers' own training rows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trustscope.rumour.events import RumourEvent
from trustscope.rumour.features import author_key

HISTORY_NAMES: tuple[str, ...] = ("log_author_rumours", "log_author_non_rumours")


@dataclass(slots=True)
class AuthorHistory:
    keys: np.ndarray  # int64, sorted
    rumours: np.ndarray  # int64 per key
    total: np.ndarray  # int64 per key

    @classmethod
    def fit(cls, events: Sequence[RumourEvent], y: np.ndarray) -> AuthorHistory:
        counts: dict[int, list[int]] = {}
        for e, label in zip(events, np.asarray(y).tolist()):
            k = author_key(e.author)
            if k is not None:
                c = counts.setdefault(k, [0, 0])
                c[0] += int(label)
                c[1] += 1
        keys = np.asarray(sorted(counts), dtype=np.int64)
        return cls(keys, np.asarray([counts[k][0] for k in keys.tolist()], dtype=np.int64),
                   np.asarray([counts[k][1] for k in keys.tolist()], dtype=np.int64))

    def lookup(self, author_keys: Sequence[int | None]) -> np.ndarray:
        """(n, 2) [log1p(rumours), log1p(non-rumours)] per key; (0, 0) for unknown or None."""
        out = np.zeros((len(author_keys), len(HISTORY_NAMES)))
        if not self.keys.size:
            return out
        for i, k in enumerate(author_keys):
            if k is None:
                continue
            j = int(np.searchsorted(self.keys, k))
            if j < self.keys.size and int(self.keys[j]) == k:
                r, n = int(self.rumours[j]), int(self.total[j])
                out[i] = (math.log1p(r), math.log1p(n - r))
        return out

    def features(self, events: Sequence[RumourEvent]) -> np.ndarray:
        return self.lookup([author_key(e.author) for e in events])

    def arrays(self) -> dict[str, np.ndarray]:
        return {"hist.keys": self.keys, "hist.rumours": self.rumours, "hist.total": self.total}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AuthorHistory:
        keys, r, n = (arrays[k].astype(np.int64) for k in ("hist.keys", "hist.rumours", "hist.total"))
        if not (keys.shape == r.shape == n.shape):
            raise ValueError("author history: keys and counts differ in size")
        return cls(keys, r, n)
