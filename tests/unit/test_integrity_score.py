"""Verified score: formula, prior, recency, interval, exclusions, mergeable form."""

import pytest

from trustscope.integrity.score import (
    PRIOR_WEIGHT,
    ScoreAccumulator,
    scores_by_platform,
    verified_score,
)

NOW = 1_750_000_000.0
DAY = 86_400.0


def _r(rating, verdict="verified", age_days=0.0, reasons=None):
    return {"rating": rating, "created_at": NOW - age_days * DAY, "verdict": verdict, "reasons": reasons or []}


def test_no_reviews_gives_the_prior():
    s = verified_score([], now=NOW)
    assert s.verified_score == pytest.approx(3.5)
    assert s.raw_average is None and s.total == 0
    lo, hi = s.interval
    assert lo < 3.5 < hi


def test_many_verified_reviews_dominate_the_prior_and_narrow_the_interval():
    few = verified_score([_r(5)] * 5, now=NOW)
    many = verified_score([_r(5)] * 500, now=NOW)
    assert 3.5 < few.verified_score < many.verified_score < 5.0
    assert many.verified_score == pytest.approx((PRIOR_WEIGHT * 3.5 + 500 * 5) / (PRIOR_WEIGHT + 500))
    assert (many.interval[1] - many.interval[0]) < (few.interval[1] - few.interval[0])


def test_fakes_and_suspicious_are_excluded_and_counted_by_primary_reason():
    reviews = [_r(2)] * 50 + [_r(5, "fake", reasons=["near_duplicate: 40 reviews share...", "burst: x"])] * 40 \
        + [_r(5, "suspicious", reasons=["lockstep: group"])] * 10
    s = verified_score(reviews, now=NOW)
    assert s.total == 100 and s.verified == 50 and s.fake == 40 and s.suspicious == 10
    assert s.excluded == {"near_duplicate": 40, "lockstep": 10}
    assert s.raw_average == pytest.approx(3.5)
    assert s.verified_score < 2.5
    half = verified_score(reviews, now=NOW, suspicious_weight=0.5)
    assert half.verified_score > s.verified_score


def test_recency_half_life():
    old = verified_score([_r(1, age_days=720)] * 100 + [_r(5)] * 10, now=NOW)
    assert old.verified_score > 3.0  # 2-year-old 1-star reviews weigh 1/16 each


def test_accumulators_merge_to_the_same_result():
    items = [_r(1 + i % 5, age_days=i) for i in range(60)] + [_r(5, "fake", reasons=["burst: x"])]
    a, b = ScoreAccumulator(), ScoreAccumulator()
    for n, it in enumerate(items):
        (a if n % 2 else b).add(it)
    merged = a.merge(b).result(NOW).to_dict()
    assert merged == verified_score(items, now=NOW).to_dict()


def test_to_dict_shape_and_bad_input():
    d = verified_score([_r(4)], now=NOW).to_dict()
    assert {"verified_score", "raw_average", "interval", "total", "verified", "excluded"} <= set(d)
    assert len(d["interval"]) == 2
    with pytest.raises(ValueError):
        verified_score([_r(7)], now=NOW)
    with pytest.raises(ValueError):
        verified_score([_r(4, verdict="maybe")], now=NOW)


def test_scores_by_platform():
    out = scores_by_platform([{**_r(5), "platform": "a"}, {**_r(1), "platform": "b"}], now=NOW)
    assert set(out) == {"a", "b"} and out["a"].verified_score > out["b"].verified_score
