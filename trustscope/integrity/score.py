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

Defence in depth (``robust=True``, the default; docs/integrity.md "A score a missed campaign cannot
move"): what a review weighs also depends on who wrote it, so that a campaign the detectors miss
still moves the score little:

* *one author, one voice, less for repeaters*: an author's reviews of the platform share one
  review's weight (each weighs ``w / author_divisor(n_author)``); an author with more than
  ``REPEAT_FREE`` rated reviews of the platform carries ``REPEAT_FREE / n_author`` of a voice
  (``author_divisor(n) = n^2 / REPEAT_FREE`` there): a handful of accounts writing dozens of reviews
  each are a handful of small voices;
* *weak accounts* (younger than ``WEAK_AGE_DAYS`` with at most ``WEAK_PRIOR`` earlier reviews)
  weigh ``WEAK_WEIGHT``, and in any calendar week (UTC, ``t // 7 days``) their total weight is
  capped at ``WEAK_CAP`` times the weight of the week's established reviews;
* *registration cohorts*: established accounts registered in the same week together carry at most
  ``COHORT_CAP`` of the platform's established weight.

All of it is state the accumulator holds (per-author sums by bucket, per-week established sums),
so ``add``/``remove``/``merge`` stay exact and ``result`` applies the caps.

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
WEEK = 7 * DAY
WEAK_AGE_DAYS = 60.0
WEAK_PRIOR = 2
WEAK_WEIGHT = 0.25
WEAK_CAP = 0.06  # weak accounts' weight in a week <= this x the week's established weight
REPEAT_FREE = 2  # an author's reviews of a platform beyond this many shrink its voice to REPEAT_FREE / n
ANON = "\x00"  # the pseudo-author of reviews without author_id
COHORT_CAP = 0.01  # one registration week's established accounts <= this share of established weight


def author_divisor(n: float) -> float:
    """What each of an author's ``n`` rated reviews of a platform is divided by: ``n`` (one voice) up
    to ``REPEAT_FREE`` reviews, ``n^2 / REPEAT_FREE`` beyond (a voice of ``REPEAT_FREE / n``). The
    store's Lua script computes the same (``trustscope.scores.store``), so keep the two in step."""
    n = max(1.0, float(n))
    return n if n <= REPEAT_FREE else n * n / REPEAT_FREE


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
    robust: bool = True
    # robust state: author -> [n reviews, {bucket: [5 weights]}], bucket "w<week>" (weak account),
    # "c<registration week>" (established, known registration) or "e" (established, unknown);
    # week -> established weight (the weak cap's reference, not divided by authors)
    authors: dict[str, list[Any]] = field(default_factory=dict)
    est_week: dict[int, float] = field(default_factory=dict)

    def add(self, item: Any) -> None:
        self._apply(item, 1)

    def remove(self, item: Any) -> None:
        """Undo ``add(item)`` exactly (a revised verdict: remove the old form, add the new one)."""
        self._apply(item, -1)

    def _apply(self, item: Any, sign: int) -> None:
        rating = _get(item, "rating")
        verdict = _get(item, "verdict") or "verified"
        if verdict not in ("verified", "suspicious", "fake"):
            raise ValueError(f"verdict must be verified|suspicious|fake, got {verdict!r}")
        self.total += sign
        if verdict == "suspicious":
            self.suspicious += sign
        elif verdict == "fake":
            self.fake += sign
        if rating is None:
            return
        rating = int(rating)
        if not 1 <= rating <= 5:
            raise ValueError(f"rating must be 1-5, got {rating!r}")
        self.raw_sum += sign * rating
        self.raw_n += sign
        share = 1.0 if verdict == "verified" else self.suspicious_weight if verdict == "suspicious" else 0.0
        if verdict == "verified":
            self.verified += sign
        if share < 1.0:
            reasons = _get(item, "reasons") or []
            code = reasons[0].split(":", 1)[0].strip() if reasons else verdict
            self.excluded[code] += sign
            if self.excluded[code] == 0:
                del self.excluded[code]
        if self.robust:  # reviews without an author each count alone (pseudo-author ANON, n = 1)
            author = _get(item, "author_id")
            self._robust(item, ANON if author is None else str(author), rating, share, sign)
        if share <= 0.0:
            return
        created = _get(item, "created_at")
        created = float(created) if created is not None else _REF
        log2w = (created - _REF) / (self.half_life_days * DAY)
        self.star_w[rating - 1] += sign * share * 2.0 ** log2w

    def _robust(self, item: Any, author: str, rating: int, share: float, sign: int) -> None:
        created = _get(item, "created_at")
        created = float(created) if created is not None else _REF
        reg = _get(item, "author_created_at")
        prior = _get(item, "author_review_count")
        prior = None if prior is None else max(0, int(prior) - 1)
        age = None if reg is None else (created - float(reg)) / DAY
        state = self.authors.setdefault(author, [0, {}])
        state[0] += sign  # every rated review counts towards the author's share, kept or not
        w = share * 2.0 ** ((created - _REF) / (self.half_life_days * DAY))
        if w > 0:
            weak = age is not None and age < WEAK_AGE_DAYS and (prior or 0) <= WEAK_PRIOR
            if weak:
                bucket, w = f"w{int(created // WEEK)}", w * WEAK_WEIGHT
            else:
                bucket = "e" if reg is None else f"c{int(float(reg) // WEEK)}"
                week = int(created // WEEK)
                self.est_week[week] = self.est_week.get(week, 0.0) + sign * w
            vec = state[1].setdefault(bucket, [0.0] * 5)
            vec[rating - 1] += sign * w
        if state[0] <= 0:
            del self.authors[author]

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
        for a, (n, buckets) in other.authors.items():
            mine = self.authors.setdefault(a, [0, {}])
            mine[0] += n
            for b, vec in buckets.items():
                cur = mine[1].setdefault(b, [0.0] * 5)
                for k in range(5):
                    cur[k] += vec[k]
        for wk, v in other.est_week.items():
            self.est_week[wk] = self.est_week.get(wk, 0.0) + v
        return self

    def _robust_weights(self) -> list[float]:
        """Star weights after the per-author share and the weak / cohort caps (module docstring)."""
        buckets: dict[str, list[float]] = {}
        for a, (n, by) in self.authors.items():
            div = 1.0 if a == ANON else author_divisor(n)
            for b, vec in by.items():
                cur = buckets.setdefault(b, [0.0] * 5)
                for k in range(5):
                    cur[k] += vec[k] / div
        est_total = sum(sum(v) for b, v in buckets.items() if b[0] != "w")
        out = [0.0] * 5
        for b, vec in buckets.items():
            tot = sum(vec)
            if tot <= 0:
                continue
            if b[0] == "w":
                cap = WEAK_CAP * max(0.0, self.est_week.get(int(b[1:]), 0.0))
            elif b[0] == "c":
                cap = COHORT_CAP * est_total
            else:
                cap = tot
            f = min(1.0, cap / tot)
            for k in range(5):
                out[k] += vec[k] * f
        return out

    def result(self, now: float | None = None, prior_weight: float = PRIOR_WEIGHT,
               prior_dist: tuple[float, ...] = PRIOR_DIST) -> PlatformScore:
        now = time.time() if now is None else float(now)
        scale = 2.0 ** (-(now - _REF) / (self.half_life_days * DAY))
        weights = self._robust_weights() if self.robust and self.authors else self.star_w
        counts = [max(0.0, w * scale) for w in weights]
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
                   prior_dist: tuple[float, ...] = PRIOR_DIST, robust: bool = True) -> PlatformScore:
    """The verified score of one platform's reviews (dicts or objects with rating, created_at,
    verdict, reasons). ``now`` defaults to the current time (recency is measured from it)."""
    if abs(sum(prior_dist) - 1.0) > 1e-6 or len(prior_dist) != 5:
        raise ValueError("prior_dist must be 5 probabilities summing to 1")
    acc = ScoreAccumulator(suspicious_weight=suspicious_weight, half_life_days=half_life_days, robust=robust)
    for item in reviews:
        acc.add(item)
    return acc.result(now, prior_weight, prior_dist)


def scores_by_platform(reviews: Iterable[Any], now: float | None = None, **kw: Any) -> dict[str, PlatformScore]:
    """``verified_score`` for each platform of a mixed list (items also carry ``platform``)."""
    groups: dict[str, list[Any]] = {}
    for item in reviews:
        groups.setdefault(str(_get(item, "platform")), []).append(item)
    return {p: verified_score(items, now, **kw) for p, items in sorted(groups.items())}
