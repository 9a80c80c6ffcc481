"""What a score read shows: the published formula applied to the maintained sums, or - below the
minimum number of verified reviews - no score at all, with the counts that explain why.

The prior alone is not a score: with 0 verified reviews the posterior mean is exactly the prior's
3.5 stars, and showing it would tell a visitor something nobody said. So under ``min_verified``
verified reviews ``verified_score``, ``stars`` and ``interval`` are null and ``status`` is
``insufficient`` ("not enough verified reviews yet").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from trustscope.integrity.score import HALF_LIFE_DAYS, PRIOR_DIST, PRIOR_WEIGHT
from trustscope.scores.contribution import UNVERIFIED, unflatten

DEFAULT_MIN_VERIFIED = 10
FORMULA = (
    "score = sum_k k*alpha_k / sum_k alpha_k, alpha_k = prior_weight*prior_k + sum of w over verified "
    "reviews with k stars, w = 2^(-age_days/half_life_days), shared by an author's reviews (w/n_author; "
    "beyond 2 reviews w/(n_author^2/2)), weak accounts x0.25 capped per week, registration cohorts "
    "capped (docs/integrity.md); "
    "95% interval = score +- 1.96*sqrt(Var/(alpha_0+1))"
)
MESSAGES = {"insufficient": {"en": "not enough verified reviews yet", "zh": "经核验的评价数量尚不足"}}


def half_stars(value: float | None) -> float | None:
    """The score rounded to the nearest half star (what the stars show)."""
    return None if value is None else round(value * 2.0) / 2.0


class ScoreView(BaseModel):
    platform: str
    status: Literal["ok", "insufficient"]
    message: str | None = Field(None, description="why no score is shown, when status is insufficient")
    verified_score: float | None = Field(None, description="posterior mean in stars, 1-5; null when withheld")
    stars: float | None = Field(None, description="verified_score rounded to half stars")
    interval: list[float] | None = None
    min_verified: int
    verified: int = Field(..., description="verified reviews with a rating")
    total: int = Field(..., description="every review of the platform")
    suspicious: int
    fake: int
    unverified: int = Field(..., description="reviews without a known verdict yet (never counted)")
    excluded: dict[str, int] = Field(default_factory=dict, description="excluded reviews by reason code")
    distribution: dict[str, int] = Field(default_factory=dict, description="verified reviews per star level")
    raw_average: float | None = Field(None, description="naive mean of every rating, for comparison")
    effective_weight: float = 0.0
    half_life_days: float = HALF_LIFE_DAYS
    prior_weight: float = PRIOR_WEIGHT
    prior_dist: list[float] = Field(default_factory=lambda: list(PRIOR_DIST))
    formula: str = FORMULA
    computed_at: float

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def score_view(platform: str, state: Mapping[str, float], now: float | None = None,
               min_verified: int = DEFAULT_MIN_VERIFIED, lang: str = "en") -> ScoreView:
    """The score of one platform from its maintained sums (``ScoreStore.state``)."""
    now = time.time() if now is None else now
    acc = unflatten(state)
    result = acc.result(now)
    distribution = {str(k): int(round(state.get(f"x:dist.{k}", 0.0))) for k in range(1, 6)}
    shown = result.verified >= max(1, min_verified)
    score = round(result.verified_score, 3) if shown else None
    return ScoreView(
        platform=platform,
        status="ok" if shown else "insufficient",
        message=None if shown else MESSAGES["insufficient"].get(lang, MESSAGES["insufficient"]["en"]),
        verified_score=score,
        stars=half_stars(score),
        interval=[round(result.interval[0], 3), round(result.interval[1], 3)] if shown else None,
        min_verified=min_verified,
        verified=result.verified,
        total=result.total,
        suspicious=result.suspicious,
        fake=result.fake,
        unverified=int(round(state.get(f"x:{UNVERIFIED}", 0.0))),
        excluded=dict(sorted(result.excluded.items())),
        distribution=distribution,
        raw_average=None if result.raw_average is None else round(result.raw_average, 3),
        effective_weight=round(result.weight, 3),
        computed_at=now,
    )
