"""Maintained-score maths without Redis: flattening the accumulator, unverified reviews, withholding."""

from __future__ import annotations

import random

from trustscope.integrity.score import verified_score
from trustscope.scores.contribution import contribution_of, flatten, unflatten
from trustscope.scores.view import half_stars, score_view

NOW = 1_790_000_000.0


def _doc(i: int, rating: int, verdict: str | None, days_ago: float = 1.0, reasons: list[str] | None = None,
         platforms: list[str] | None = None, revision: int = 0) -> dict:
    doc = {"id": f"d{i}", "kind": "review", "platforms": platforms or ["p1"], "rating": rating,
           "created_at": NOW - days_ago * 86400}
    if verdict is not None:
        doc["integrity"] = {"verdict": verdict, "reasons": reasons or [], "revision": revision}
    return doc


def _sum(docs: list[dict]) -> dict[str, float]:
    state: dict[str, float] = {}
    for d in docs:
        c = contribution_of(d)
        assert c is not None
        for k, v in c.fields.items():
            state[k] = state.get(k, 0.0) + v
    return state


def test_summed_contributions_equal_the_library_formula():
    rng = random.Random(3)
    docs = [_doc(i, rng.randint(1, 5), rng.choice(["verified", "verified", "suspicious", "fake"]),
                 days_ago=rng.uniform(0, 900), reasons=["burst: 9 in 1h"]) for i in range(300)]
    view = score_view("p1", _sum(docs), now=NOW, min_verified=1)
    rows = [{"rating": d["rating"], "created_at": d["created_at"], "verdict": d["integrity"]["verdict"],
             "reasons": d["integrity"]["reasons"]} for d in docs]
    expected = verified_score(rows, now=NOW)
    assert view.verified_score == round(expected.verified_score, 3)
    assert view.interval == [round(x, 3) for x in expected.interval]
    assert view.verified == expected.verified and view.total == expected.total
    assert view.excluded == expected.excluded and view.fake == expected.fake
    assert sum(view.distribution.values()) == expected.verified


def test_flatten_round_trip_keeps_every_sum():
    acc = unflatten(_sum([_doc(1, 5, "verified"), _doc(2, 1, "fake", reasons=["near_duplicate: x"])]))
    again = unflatten(flatten(acc))
    assert flatten(again) == flatten(acc)
    assert acc.total == 2 and acc.verified == 1 and acc.fake == 1 and acc.excluded == {"near_duplicate": 1}


def test_missing_verdict_is_not_verified():
    view = score_view("p1", _sum([_doc(i, 5, None) for i in range(20)]), now=NOW, min_verified=1)
    assert view.verified == 0 and view.unverified == 20 and view.total == 20
    assert view.excluded == {"unverified": 20} and view.suspicious == 0
    assert view.status == "insufficient" and view.verified_score is None


def test_score_withheld_below_minimum_never_the_prior():
    docs = [_doc(i, 5, "verified") for i in range(9)] + [_doc(100 + i, 1, "fake") for i in range(50)]
    view = score_view("p1", _sum(docs), now=NOW, min_verified=10)
    assert view.status == "insufficient" and view.message == "not enough verified reviews yet"
    assert view.verified_score is None and view.stars is None and view.interval is None
    assert view.verified == 9 and view.total == 59 and view.fake == 50
    assert score_view("p1", {}, now=NOW).verified_score is None  # nothing at all: no 3.5 prior
    shown = score_view("p1", _sum(docs + [_doc(9, 5, "verified")]), now=NOW, min_verified=10)
    assert shown.status == "ok" and shown.verified_score is not None and shown.verified == 10


def test_half_stars():
    assert [half_stars(x) for x in (4.24, 4.26, 4.74, 4.76, 1.0)] == [4.0, 4.5, 4.5, 5.0, 1.0]
    assert half_stars(None) is None


def test_non_reviews_and_unlinked_reviews_contribute_nothing():
    assert contribution_of({"id": "n", "kind": "news", "platforms": ["p1"]}) is None
    assert contribution_of({"id": "r", "kind": "review", "platforms": [], "rating": 5}) is None


def test_trust_index_components_and_withholding():
    from trustscope.scores.trust import rumour_load, satisfaction, trust_index, violations, word_of_mouth

    score = {"status": "ok", "verified_score": 4.0, "verified": 40, "total": 50, "fake": 5, "suspicious": 5}
    comps = [satisfaction(score), word_of_mouth({"positive": 6, "negative": 2, "neutral": 2}, {"positive": 5, "negative": 5}),
             violations(score), rumour_load(1, 10, [{"level": "high"}])]
    assert [c.value for c in comps] == [0.75, 0.7, 0.8, 0.6]
    assert comps[1].basis["trend"] == 0.4
    ti = trust_index(comps)
    assert ti.status == "ok" and ti.index == round(100 * (0.4 * 0.75 + 0.25 * 0.7 + 0.2 * 0.8 + 0.15 * 0.6), 1)
    # no sentiment data: that component leaves the weighted mean
    quiet = [comps[0], word_of_mouth({}, {}), comps[2], comps[3]]
    assert trust_index(quiet).index == round(100 * (0.4 * 0.75 + 0.2 * 0.8 + 0.15 * 0.6) / 0.75, 1)
    # an outage or a withheld score withholds the index
    assert trust_index([comps[0], word_of_mouth(None, None), comps[2], comps[3]]).status == "withheld"
    withheld = trust_index([satisfaction({"status": "insufficient", "verified_score": None}), *comps[1:]])
    assert withheld.index is None and "verified score" in withheld.reason
