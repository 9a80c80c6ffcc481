"""Detectors: each turns evidence into a ``Signal`` (a score in [0, 1] and a reason a person can read).

The detectors are pure functions over small statistics; the engine keeps those statistics in the
shared store and calls the detectors when it (re-)judges a review. That split is what makes each
detector testable on hand-made cases and the engine identical in memory and on Redis.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence. ``name`` is the stable reason code; ``reason`` the human text."""

    name: str
    score: float
    reason: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            object.__setattr__(self, "score", min(1.0, max(0.0, self.score)))


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi``, linear between (the shape of every hand-set score here)."""
    if hi == lo:
        return 1.0 if x >= hi else 0.0
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))
