"""Bursts: a platform's daily volume of 5-star (or 1-star) reviews against its own recent baseline.

Baseline: a trimmed mean of the platform's daily counts for that rating class over the previous
``HISTORY_DAYS`` days (the ``TRIM`` largest days dropped, so yesterday's campaign does not become
today's normal), floored at ``MIN_RATE`` per day. Surprise: the Chernoff bound on the Poisson upper
tail, ``z = k ln(k/lambda) - (k - lambda)`` nats (``P(X >= k) <= e^-z``) - cheap, monotone and exact
enough for a threshold. Rating classes: ``pos`` (4-5 stars) and ``neg`` (1-2 stars), so a wave of
1-star reviews on a competitor is as visible as a wave of 5-star ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from trustscope.integrity.detectors import Signal, ramp

DAY = 86_400
HISTORY_DAYS = 14
TRIM = 2
MIN_HISTORY_DAYS = 3
MIN_RATE = 1.0
Z_LO, Z_HI = 6.0, 16.0  # nats of surprise mapped to score 0 and 1


def rating_class(rating: int | None) -> str | None:
    if rating is None:
        return None
    if rating >= 4:
        return "pos"
    if rating <= 2:
        return "neg"
    return None


def baseline(daily_counts: Sequence[int]) -> float | None:
    """Expected count per day from the previous days (oldest first); None if too little history."""
    if len(daily_counts) < MIN_HISTORY_DAYS:
        return None
    kept = sorted(daily_counts)[: max(1, len(daily_counts) - TRIM)]
    return max(MIN_RATE, sum(kept) / len(kept))


def surprise(k: int, lam: float) -> float:
    """Chernoff bound exponent of P(Poisson(lam) >= k), in nats (0 when k <= lam)."""
    if k <= lam:
        return 0.0
    return k * math.log(k / lam) - (k - lam)


def score(k: int, lam: float | None, rclass: str) -> Signal:
    """Evidence that this review is part of an unusual wave of same-class reviews today."""
    if lam is None or k < 5:
        return Signal("burst", 0.0)
    z = surprise(k, lam)
    s = ramp(z, Z_LO, Z_HI)
    if s <= 0:
        return Signal("burst", 0.0)
    stars = "4-5 star" if rclass == "pos" else "1-2 star"
    return Signal("burst", s, f"{k} {stars} reviews of this platform today against a baseline of {lam:.1f}/day")
