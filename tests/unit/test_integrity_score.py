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


# ---------------------------------------------------------------- defence in depth (robust score)
def _platform(days=60, per_day=10, seed=1):
    import random
    r = random.Random(seed)
    out = []
    for d in range(days):
        for k in range(per_day):
            t = NOW - (days - d) * DAY + k * 600
            newcomer = r.random() < 0.25
            out.append({"rating": r.choice([1, 2, 3, 4, 5, 5, 4, 3]), "created_at": t, "verdict": "verified",
                        "author_id": f"n{d}-{k}" if newcomer else f"u{r.randrange(2000)}",
                        "author_created_at": t - (1 if newcomer else r.uniform(60, 1000)) * DAY,
                        "author_review_count": 1 if newcomer else 8})
    return out


def _injected(base, n, young=True, authors=None, days=12):
    out = []
    for i in range(n):
        t = NOW - days * DAY + i * days * DAY / n
        out.append({"rating": 5, "created_at": t, "verdict": "verified",
                    "author_id": f"x{i}" if authors is None else f"x{i % authors}",
                    "author_created_at": t - (10 if young else 400) * DAY, "author_review_count": 1 if young else 6})
    return base + out


def test_a_missed_newcomer_campaign_of_30_percent_moves_the_robust_score_little():
    honest = _platform()
    attacked = _injected(honest, round(len(honest) * 0.3 / 0.7))
    plain = verified_score(attacked, now=NOW, robust=False).verified_score - \
        verified_score(honest, now=NOW, robust=False).verified_score
    robust = verified_score(attacked, now=NOW).verified_score - verified_score(honest, now=NOW).verified_score
    assert plain > 0.4 and 0 < robust <= 0.2


def test_a_few_aged_accounts_writing_many_reviews_share_a_few_voices():
    honest = _platform()
    attacked = _injected(honest, round(len(honest) * 0.3 / 0.7), young=False, authors=20, days=60)
    robust = verified_score(attacked, now=NOW).verified_score - verified_score(honest, now=NOW).verified_score
    assert robust <= 0.1


def test_a_genuine_surge_of_established_users_still_moves_the_score():
    honest = _platform()
    surge = [{**it, "rating": 1, "author_id": f"s{i}", "created_at": NOW - 3 * DAY + i * 60,
              "author_created_at": NOW - 500 * DAY - i * 7 * DAY} for i, it in enumerate(honest[:300])]
    before = verified_score(honest, now=NOW)
    after = verified_score(honest + surge, now=NOW)
    plain_drop = verified_score(honest, now=NOW, robust=False).verified_score - \
        verified_score(honest + surge, now=NOW, robust=False).verified_score
    assert before.verified_score - after.verified_score >= max(0.5, 0.8 * plain_drop)


def test_remove_undoes_add_and_merge_keeps_author_state():
    items = _injected(_platform(days=20), 60)
    acc = ScoreAccumulator()
    for it in items:
        acc.add(it)
    extra = {**items[0], "verdict": "fake", "reasons": ["copied_text: x"]}
    acc.add(extra)
    acc.remove(extra)
    assert acc.result(NOW).to_dict() == verified_score(items, now=NOW).to_dict()
    a, b = ScoreAccumulator(), ScoreAccumulator()
    for n, it in enumerate(items):
        (a if n % 3 else b).add(it)
    assert a.merge(b).result(NOW).to_dict() == verified_score(items, now=NOW).to_dict()


def test_author_divisor_gives_repeaters_a_shrinking_voice():
    from trustscope.integrity.score import REPEAT_FREE, author_divisor

    assert author_divisor(0) == 1.0 and author_divisor(1) == 1.0
    assert author_divisor(REPEAT_FREE) == REPEAT_FREE  # up to REPEAT_FREE reviews: one voice
    for n in (REPEAT_FREE + 1, 10, 40):  # beyond: n reviews together carry REPEAT_FREE / n of a voice
        assert n / author_divisor(n) == pytest.approx(REPEAT_FREE / n)


def test_an_aged_farm_writing_several_reviews_each_stays_under_the_bound():
    """A camouflage-style farm: aged accounts from spread-out registration weeks, six 5-star
    reviews each over the whole window, 30% of the platform's reviews: the plain formula moves far,
    the robust one (repeat divisor) by at most 0.2 star, and less than with one voice per author."""
    from trustscope.integrity import score

    honest = _platform()
    n = round(len(honest) * 0.3 / 0.7)
    farm, accounts = [], n // 6
    for i in range(n):
        t = NOW - 58 * DAY + i * 58 * DAY / n
        a = i % accounts
        farm.append({"rating": 5, "created_at": t, "verdict": "verified", "author_id": f"k{a}",
                     "author_created_at": NOW - (60 + 3.4 * a) * DAY, "author_review_count": 12})
    plain = verified_score(honest + farm, now=NOW, robust=False).verified_score - \
        verified_score(honest, now=NOW, robust=False).verified_score
    robust = verified_score(honest + farm, now=NOW).verified_score - verified_score(honest, now=NOW).verified_score
    assert plain > 0.4 and 0 < robust <= 0.2
    old, score.REPEAT_FREE = score.REPEAT_FREE, 10**9
    try:
        base = verified_score(honest, now=NOW).verified_score
        one_voice_shift = verified_score(honest + farm, now=NOW).verified_score - base
    finally:
        score.REPEAT_FREE = old
    assert robust < one_voice_shift


def test_an_outage_with_newcomers_complaining_still_moves_the_score_on_the_same_days():
    """A genuine surge as the simulator's eval waves: 3x the usual volume for 4 days, 90% 1-2 stars,
    40% of it from accounts registered to complain. The robust score follows it by at least 0.7
    of the plain score's drop, and no later than the plain one."""
    import random

    r = random.Random(4)
    honest = _platform()
    wave = []
    for i in range(120):  # 10 a day usual -> 30 extra a day for 4 days
        t = NOW - 4 * DAY + i * 4 * DAY / 120
        newcomer = r.random() < 0.4
        wave.append({"rating": r.choice([1, 1, 2]) if r.random() < 0.9 else 5, "created_at": t,
                     "verdict": "verified", "author_id": f"w{i}" if newcomer else f"u{r.randrange(2000)}",
                     "author_created_at": t - (1 if newcomer else r.uniform(60, 1000)) * DAY,
                     "author_review_count": 1 if newcomer else 8})
    before = NOW - 4 * DAY

    def drop(robust: bool, until: float) -> float:
        pre = [x for x in honest if x["created_at"] <= before]
        now_items = [x for x in honest + wave if x["created_at"] <= until]
        return verified_score(pre, now=before, robust=robust).verified_score - \
            verified_score(now_items, now=until, robust=robust).verified_score

    plain, robust = drop(False, NOW), drop(True, NOW)
    assert plain > 0.2 and robust >= 0.7 * plain
    mid = NOW - 2 * DAY  # half-way through the wave both have moved, the robust one comparably
    assert drop(True, mid) >= 0.7 * drop(False, mid) > 0
