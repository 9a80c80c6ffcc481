"""Maintained-score maths without Redis: flattening the accumulator, unverified reviews, withholding."""

from __future__ import annotations

import random

from trustscope.integrity.score import verified_score
from trustscope.scores.contribution import (Contribution, SharedSums, author_id_of, author_key, contribution_of,
                                            flatten, sum_contributions, unflatten)
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
    contributions = [contribution_of(d) for d in docs]
    assert all(c is not None for c in contributions)
    return sum_contributions(contributions)[0]


def _authored(rng: random.Random, n: int, authors: int = 40) -> list[dict]:
    """Reviews by a few repeat authors, some of them young accounts (weak), some in one cohort."""
    docs = []
    for i in range(n):
        a = rng.randrange(authors)
        d = _doc(i, rng.randint(1, 5), rng.choice(["verified", "verified", "verified", "suspicious", "fake"]),
                 days_ago=rng.uniform(0, 400), reasons=["burst: 9 in 1h"])
        if a % 7 != 0:  # every 7th author unknown: counted alone as ANON
            d["author_id"] = f"u.{a}%x" if a % 3 else f"u{a}"
            young = a % 4 == 0
            d["author_created_at"] = d["created_at"] - (rng.uniform(1, 30) if young else 86400 * (300 + 17 * a))
            d["author_review_count"] = 1 if young else 12
        docs.append(d)
    return docs


def _row(d: dict) -> dict:
    return {"rating": d["rating"], "created_at": d["created_at"], "verdict": d["integrity"]["verdict"],
            "reasons": d["integrity"]["reasons"], "author_id": d.get("author_id"),
            "author_created_at": d.get("author_created_at"), "author_review_count": d.get("author_review_count")}


def _replay(events: list[Contribution]) -> tuple[dict[str, float], SharedSums]:
    """Apply contributions as the store's script does: a document's newer revision replaces the
    older one (its old contribution subtracted), an older or identical one changes nothing."""
    state: dict[str, float] = {}
    authors = SharedSums()
    applied: dict[str, Contribution] = {}
    for c in events:
        old = applied.get(c.doc_id)
        if old is not None and (old.revision > c.revision or old == c):
            continue
        for sign, x in ((-1, old), (1, c)):
            if x is None:
                continue
            for k, v in x.fields.items():
                state[k] = state.get(k, 0.0) + sign * v
            authors.apply(x.author, x.author_fields, sign)
        applied[c.doc_id] = c
    for k, v in authors.shared.items():
        state[k] = state.get(k, 0.0) + v
    return state, authors


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


def test_robust_state_in_any_order_with_revisions_equals_the_library_formula():
    rng = random.Random(5)
    docs = _authored(rng, 400)
    # revisions: some verdicts change (and change back), delivered out of order and twice
    revised = []
    for d in rng.sample(docs, 60):
        r = {**d, "integrity": {"verdict": "fake", "reasons": ["lockstep: 4 accounts"], "revision": 1}}
        revised.append(r)
    final_by_id = {d["id"]: d for d in docs} | {r["id"]: r for r in revised}
    events = [contribution_of(d) for d in docs + revised + docs[:50]]
    expected = verified_score([_row(d) for d in final_by_id.values()], now=NOW)
    plain = verified_score([_row(d) for d in final_by_id.values()], now=NOW, robust=False)
    assert abs(expected.verified_score - plain.verified_score) > 1e-3  # the robust path matters here
    states = []
    for seed in range(3):
        order = list(events)
        random.Random(seed).shuffle(order)
        state, authors = _replay(order)
        states.append(state)
        got = unflatten(state).result(NOW)
        assert abs(got.verified_score - expected.verified_score) < 1e-9
        assert all(abs(a - b) < 1e-9 for a, b in zip(got.interval, expected.interval))
        assert (got.verified, got.fake, got.total, got.excluded) == (
            expected.verified, expected.fake, expected.total, expected.excluded)
        # the per-author sums are the library accumulator's, author by author
        acc = verified_score_acc([_row(d) for d in final_by_id.values()])
        assert {author_id_of(k): v["n"] for k, v in authors.authors.items()} == {
            a: float(n) for a, (n, _) in acc.authors.items()}
        lib = flatten(acc)
        assert set(lib) == {k for k, v in state.items() if abs(v) > 1e-9 and not k.startswith("x:")}
        assert all(abs(state[k] - v) <= 1e-9 * max(1.0, abs(v)) for k, v in lib.items())
    for other in states[1:]:  # the same state in any order, up to float noise (zeros may stay as fields)
        assert all(abs(states[0].get(k, 0.0) - other.get(k, 0.0)) <= 1e-9 * max(1.0, abs(other.get(k, 0.0)))
                   for k in set(states[0]) | set(other))


def verified_score_acc(rows: list[dict]):
    from trustscope.integrity.score import ScoreAccumulator

    acc = ScoreAccumulator()
    for r in rows:
        acc.add(r)
    return acc


def test_contribution_carries_the_author_fields_from_the_indexed_document():
    doc = {**_doc(1, 4, "verified"), "author_id": "a.b%c", "author_created_at": "2026-01-01T00:00:00+00:00",
           "author_review_count": 30}
    c = contribution_of(doc)
    assert c.author == author_key("a.b%c") == "a%2Eb%25c" and author_id_of(c.author) == "a.b%c"
    assert c.author_fields["n"] == 1.0
    (bucket,) = {k.rsplit(".", 1)[0] for k in c.author_fields if k != "n"}
    assert bucket.startswith("c")  # established account with a known registration week: a cohort
    assert not any(k.startswith(("s:", "a:authors")) for k in c.fields)
    assert any(k.startswith("a:est_week.") for k in c.fields)
    young = contribution_of({**doc, "author_created_at": NOW - 5 * 86400, "author_review_count": 1})
    assert {k.rsplit(".", 1)[0] for k in young.author_fields if k != "n"} == {f"w{int((NOW - 86400) // (7 * 86400))}"}
    anon = contribution_of(_doc(2, 4, "verified"))
    assert anon.author == "%00"


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
