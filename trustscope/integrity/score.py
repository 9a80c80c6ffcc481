"""Verified score per platform: what its reviews say once the reviews we cannot trust are removed.

Published formula (docs/integrity.md):

* Only reviews whose verdict is ``verified`` count (``suspicious_weight`` lets an operator count
  suspicious ones partially; the default 0 excludes them, like fakes). Excluded reviews are reported
  by their primary reason code; reviews without a rating are ignored.
* Recency: a review ``a`` days old weighs ``w = 2^(-a / HALF_LIFE_DAYS)`` (half-life 180 days).
* Bayesian prior (as Trustpilot adds invisible reviews to a new company's score): a Dirichlet prior
  over the 5 star levels worth ``PRIOR_WEIGHT`` reviews spread like ``PRIOR_DIST`` (mean 3.5).
  With star counts ``c_k = sum of w`` over verified reviews with k stars, the posterior is
  ``alpha_k = PRIOR_WEIGHT * PRIOR_DIST_k + c_k`` and the score is its mean ``sum k alpha_k / alpha_0``.
* Interval: 95% interval of the posterior mean, ``mean +- 1.96 sqrt(Var_k / (alpha_0 + 1))`` with
  ``Var_k`` the variance of the star level under the posterior, clipped to [1, 5].
* ``raw_average``: the naive unweighted mean of every rating, for comparison.

The score is a pure function over a list (the gateway reads the platform's reviews from
Elasticsearch and calls it); ``ScoreAccumulator`` is the same computation in a mergeable form
(decay is kept relative to a fixed epoch, so partial sums from shards can be added).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HALF_LIFE_DAYS = 180.0
PRIOR_WEIGHT = 10.0
PRIOR_DIST = (0.1, 0.1, 0.25, 0.3, 0.25)  # mean 3.5 stars
DAY = 86_400.0
_REF = 1_600_000_000.0  # fixed decay reference so accumulators built at different times merge


def _get(item: Any, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


@dataclass
class PlatformScore:
    verified_score: float
    raw_average: float | None
    interval: tuple[float, float]
    total: int
    verified: int
    excluded: dict[str, int] = field(default_factory=dict)
    suspicious: int = 0
    fake: int = 0
    weight: float = 0.0
    half_life_days: float = HALF_LIFE_DAYS
    prior_weight: float = PRIOR_WEIGHT

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified_score": round(self.verified_score, 3),
            "raw_average": None if self.raw_average is None else round(self.raw_average, 3),
            "interval": [round(self.interval[0], 3), round(self.interval[1], 3)],
            "total": self.total,
            "verified": self.verified,
            "excluded": dict(sorted(self.excluded.items())),
            "suspicious": self.suspicious,
            "fake": self.fake,
            "effective_weight": round(self.weight, 3),
            "half_life_days": self.half_life_days,
            "prior_weight": self.prior_weight,
        }


@dataclass
class ScoreAccumulator:
    """Mergeable sums behind ``verified_score`` (weights relative to a fixed epoch)."""

    suspicious_weight: float = 0.0
    half_life_days: float = HALF_LIFE_DAYS
    star_w: list[float] = field(default_factory=lambda: [0.0] * 5)  # sum of 2^((t-REF)/h) per star
    raw_sum: float = 0.0
    raw_n: int = 0
    total: int = 0
    verified: int = 0
    suspicious: int = 0
    fake: int = 0
    excluded: Counter = field(default_factory=Counter)

    def add(self, item: Any) -> None:
        rating = _get(item, "rating")
        verdict = _get(item, "verdict") or "verified"
        if verdict not in ("verified", "suspicious", "fake"):
            raise ValueError(f"verdict must be verified|suspicious|fake, got {verdict!r}")
        self.total += 1
        if verdict == "suspicious":
            self.suspicious += 1
        elif verdict == "fake":
            self.fake += 1
        if rating is None:
            return
        rating = int(rating)
        if not 1 <= rating <= 5:
            raise ValueError(f"rating must be 1-5, got {rating!r}")
        self.raw_sum += rating
        self.raw_n += 1
        share = 1.0 if verdict == "verified" else self.suspicious_weight if verdict == "suspicious" else 0.0
        if verdict == "verified":
            self.verified += 1
        if share < 1.0:
            reasons = _get(item, "reasons") or []
            code = reasons[0].split(":", 1)[0].strip() if reasons else verdict
            self.excluded[code] += 1
        if share <= 0.0:
            return
        created = _get(item, "created_at")
        created = float(created) if created is not None else _REF
        log2w = (created - _REF) / (self.half_life_days * DAY)
        self.star_w[rating - 1] += share * 2.0 ** log2w

    def merge(self, other: ScoreAccumulator) -> ScoreAccumulator:
        for k in range(5):
            self.star_w[k] += other.star_w[k]
        self.raw_sum += other.raw_sum
        self.raw_n += other.raw_n
        self.total += other.total
        self.verified += other.verified
        self.suspicious += other.suspicious
        self.fake += other.fake
        self.excluded.update(other.excluded)
        return self

    def result(self, now: float | None = None, prior_weight: float = PRIOR_WEIGHT,
               prior_dist: tuple[float, ...] = PRIOR_DIST) -> PlatformScore:
        now = time.time() if now is None else float(now)
        scale = 2.0 ** (-(now - _REF) / (self.half_life_days * DAY))
        counts = [w * scale for w in self.star_w]
        alpha = [prior_weight * p + c for p, c in zip(prior_dist, counts)]
        a0 = sum(alpha)
        mean = sum((k + 1) * a for k, a in enumerate(alpha)) / a0
        var_k = sum((k + 1) ** 2 * a for k, a in enumerate(alpha)) / a0 - mean ** 2
        half = 1.96 * math.sqrt(max(var_k, 0.0) / (a0 + 1.0))
        return PlatformScore(
            verified_score=mean,
            raw_average=self.raw_sum / self.raw_n if self.raw_n else None,
            interval=(max(1.0, mean - half), min(5.0, mean + half)),
            total=self.total,
            verified=self.verified,
            excluded=dict(self.excluded),
            suspicious=self.suspicious,
            fake=self.fake,
            weight=sum(counts),
            half_life_days=self.half_life_days,
            prior_weight=prior_weight,
        )


def verified_score(reviews: Iterable[Any], now: float | None = None, *, suspicious_weight: float = 0.0,
                   half_life_days: float = HALF_LIFE_DAYS, prior_weight: float = PRIOR_WEIGHT,
                   prior_dist: tuple[float, ...] = PRIOR_DIST) -> PlatformScore:
    """The verified score of one platform's reviews (dicts or objects with rating, created_at,
    verdict, reasons). ``now`` defaults to the current time (recency is measured from it)."""
    if abs(sum(prior_dist) - 1.0) > 1e-6 or len(prior_dist) != 5:
        raise ValueError("prior_dist must be 5 probabilities summing to 1")
    acc = ScoreAccumulator(suspicious_weight=suspicious_weight, half_life_days=half_life_days)
    for item in reviews:
        acc.add(item)
    return acc.result(now, prior_weight, prior_dist)


def scores_by_platform(reviews: Iterable[Any], now: float | None = None, **kw: Any) -> dict[str, PlatformScore]:
    """``verified_score`` for each platform of a mixed list (items also carry ``platform``)."""
    groups: dict[str, list[Any]] = {}
    for item in reviews:
        groups.setdefault(str(_get(item, "platform")), []).append(item)
    return {p: verified_score(items, now, **kw) for p, items in sorted(groups.items())}
