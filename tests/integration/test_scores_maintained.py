"""Maintained verified scores over a real Redis, and through the real pipeline against a rebuild."""

from __future__ import annotations

import random
import threading

import orjson
import pytest
from typer.testing import CliRunner

from tests.integration.scored_corpus import wait_drained
from trustscope.intake import Intake
from trustscope.samples import reviews
from trustscope.schemas import DocumentIn
from trustscope.integrity.score import verified_score
from trustscope.scores import ScoreStore, contribution_of, score_view
from trustscope.scores.contribution import sum_contributions, unflatten
from trustscope.schemas import parse_time
from trustscope.scores.rebuild import compare, recompute, scan_reviews

pytestmark = pytest.mark.integration
NOW = 1_790_000_000.0


def _doc(i: int, rating: int, verdict: str, revision: int = 0, reasons: list[str] | None = None) -> dict:
    return {"id": f"d{i}", "kind": "review", "platforms": ["p1"], "rating": rating,
            "created_at": NOW - i * 3600, "integrity": {"verdict": verdict, "revision": revision,
                                                       "reasons": reasons or []}}


def _expected(docs: list[dict]) -> dict[str, float]:
    return sum_contributions(contribution_of(d) for d in docs)[0]


def test_script_keeps_the_robust_state_exact_in_any_order_with_revisions(settings, rclient):
    """Repeat authors (one-author-one-voice), young accounts (weak cap) and a registration cohort,
    applied shuffled, with revisions, moves between authors and redelivery: the Redis state's score
    is ``verified_score`` over the final reviews, and both hashes equal the recomputed ones."""
    rng = random.Random(7)
    docs = []
    for i in range(240):
        a = rng.randrange(30)
        d = _doc(i, rng.randint(1, 5), rng.choice(["verified", "verified", "suspicious", "fake"]))
        d["created_at"] = NOW - rng.uniform(0, 200) * 86400
        if a % 6:
            young = a % 4 == 0
            d.update(author_id=f"au.{a}", author_review_count=1 if young else 9,
                     author_created_at=d["created_at"] - (86400 * 3 if young else 86400 * (400 + (a % 3))))
        docs.append(d)
    revised = [{**d, "author_id": d.get("author_id") if j % 3 else "au.moved",
                "integrity": {"verdict": "fake" if d["integrity"]["verdict"] == "verified" else "verified",
                              "revision": 1, "reasons": ["lockstep: 4 accounts"]}}
               for j, d in enumerate(rng.sample(docs, 50))]
    events = [contribution_of(d) for d in docs + revised + docs[:40] + revised[:10]]
    rng.shuffle(events)
    store = ScoreStore(rclient, settings.stream_prefix)
    for k in range(0, len(events), 37):
        store.apply(events[k:k + 37], snapshot=False)
    final = list({d["id"]: d for d in docs + revised}.values())
    state, authors = sum_contributions(contribution_of(d) for d in final)
    assert compare(store.state("p1"), state) == {}
    assert compare(store.author_state("p1"), authors.hash_fields()) == {}
    rows = [{"rating": d["rating"], "created_at": d["created_at"], "verdict": d["integrity"]["verdict"],
             "reasons": d["integrity"]["reasons"], "author_id": d.get("author_id"),
             "author_created_at": d.get("author_created_at"), "author_review_count": d.get("author_review_count")}
            for d in final]
    expected = verified_score(rows, now=NOW)
    assert abs(unflatten(store.state("p1")).result(NOW).verified_score - expected.verified_score) < 1e-9
    view = score_view("p1", store.state("p1"), now=NOW, min_verified=1)
    assert view.verified_score == round(expected.verified_score, 3) and view.verified == expected.verified
    # every review removed again (a platform dropped from each): the author hash empties
    gone = [contribution_of({**d, "platforms": ["p2"], "integrity": {**d["integrity"], "revision": 5}})
            for d in final]
    store.apply(gone, snapshot=False)
    assert rclient.hlen(store.author_hash_key("p1")) == 0
    assert all(abs(v) < 1e-6 for v in store.state("p1").values())
    assert compare(store.author_state("p2"), authors.hash_fields()) == {}


def test_apply_is_idempotent_revisable_and_refuses_stale(settings, rclient):
    store = ScoreStore(rclient, settings.stream_prefix)
    docs = [_doc(i, 1 + i % 5, "verified") for i in range(30)]
    first = store.apply(contribution_of(d) for d in docs)
    assert first == {"applied": 30, "stale": 0, "unchanged": 0}
    # redelivery of the same batch changes nothing
    assert store.apply(contribution_of(d) for d in docs)["unchanged"] == 30
    # a revision: d3 becomes fake (revision 1); the stale original arriving late is refused
    revised = _doc(3, docs[3]["rating"], "fake", revision=1, reasons=["lockstep: 4 accounts"])
    assert store.apply([contribution_of(revised)])["applied"] == 1
    assert store.apply([contribution_of(docs[3])])["stale"] == 1
    final = [revised if d["id"] == "d3" else d for d in docs]
    assert compare(store.state("p1"), _expected(final)) == {}
    view = score_view("p1", store.state("p1"), now=NOW, min_verified=1)
    assert view.verified == 29 and view.fake == 1 and view.excluded == {"lockstep": 1}
    assert store.history("p1", 1)[-1]["score"] is not None and store.platforms() == ["p1"]
    assert store.history("p1", 1000)[-1]["score"] is None  # withheld below the minimum, like the score
    assert "posterior" not in store.history("p1", 1000)[-1]


def test_doc_records_are_packed_and_an_old_layout_record_is_taken_over(settings, rclient):
    """Records live as fields of sharded hashes (compact); a record of the layout before
    2026-12-01 (one hash per document) is still what a revision subtracts, then replaced."""
    store = ScoreStore(rclient, settings.stream_prefix)
    docs = [_doc(i, 1 + i % 5, "verified") for i in range(20)]
    store.apply([contribution_of(d) for d in docs[1:]], snapshot=False)
    rec = store.doc_record("d5")
    assert rec is not None and rec["rev"] == 0 and rec["platforms"] == ["p1"] and rec["c"]["a:total"] == 1.0
    assert not rclient.exists(store.doc_key("d5"))
    # d0 as an older release stored it: applied, its record moved to a hash of its own
    store.apply([contribution_of(docs[0])], snapshot=False)
    raw = rclient.hget(store.doc_shard_key("d0"), "d0").decode()
    rclient.hdel(store.doc_shard_key("d0"), "d0")
    rclient.hset(store.doc_key("d0"), mapping=dict(zip(("rev", "platforms", "c", "a", "af"), raw.split("\x1f"))))
    assert store.apply([contribution_of(docs[0])], snapshot=False)["unchanged"] == 1
    revised = _doc(0, docs[0]["rating"], "fake", revision=1, reasons=["copied_text: x"])
    assert store.apply([contribution_of(revised)], snapshot=False)["applied"] == 1
    assert not rclient.exists(store.doc_key("d0")) and store.doc_record("d0")["rev"] == 1
    assert compare(store.state("p1"), _expected([revised, *docs[1:]])) == {}


def test_concurrent_redelivery_applies_each_contribution_once(settings, rclient):
    store = ScoreStore(rclient, settings.stream_prefix)
    docs = [_doc(i, 5, "verified") for i in range(200)]
    threads = [threading.Thread(target=store.apply, args=([contribution_of(d) for d in docs],), kwargs={"snapshot": False})
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert compare(store.state("p1"), _expected(docs)) == {}
    assert score_view("p1", store.state("p1"), now=NOW).verified == 200


def test_pipeline_state_agrees_with_rebuild_and_cli(settings, rclient, es, stages, pipeline, monkeypatch):
    store = ScoreStore(rclient, settings.stream_prefix)
    stages[-1].scores = store  # the real indexer, with its score hook on (services/indexer build() does this)
    items = reviews(160, seed=11)
    # a few copy-paste reviews so the integrity engine has something to revise
    items += [{**items[i], "source_id": f"dup-{i}", "author": {"id": f"dup-author-{i}"}} for i in range(0, 40, 4)]
    intake = Intake(rclient, settings)
    alias = f"{settings.es_index_prefix}-docs"
    with pipeline():
        outcomes = intake.submit([DocumentIn.model_validate(x) for x in items])
        assert all(o.status == "accepted" for o in outcomes)
        wait_drained(settings, rclient, es, len(items))
    platforms = store.platforms()
    assert platforms, "the indexer hook maintained no platform"
    total = 0
    for pid in platforms:
        rebuilt = recompute(es, alias, pid)
        assert compare(store.state(pid), rebuilt.state) == {}, pid
        assert compare(store.author_state(pid), rebuilt.authors.hash_fields()) == {}, pid
        total += score_view(pid, store.state(pid)).total
    assert total == len(items)
    # the maintained score is the robust formula over what Elasticsearch holds, authors and all
    pid = max(platforms, key=lambda p: rclient.hlen(store.author_hash_key(p)))
    assert rclient.hlen(store.author_hash_key(pid)) > 0
    rows = [{"rating": d.get("rating"), "created_at": parse_time(d["created_at"]).timestamp(),
             "verdict": d["integrity"]["verdict"], "reasons": d["integrity"].get("reasons") or [],
             "author_id": d.get("author_id"), "author_review_count": d.get("author_review_count"),
             "author_created_at": parse_time(d["author_created_at"]).timestamp() if d.get("author_created_at") else None}
            for d in scan_reviews(es, alias, pid)]
    now = 1_800_000_000.0
    assert abs(unflatten(store.state(pid)).result(now).verified_score - verified_score(rows, now=now).verified_score) < 1e-9
    # the CLI agrees too, and exits 1 when the live state is off
    env = {"TS_REDIS_URL": settings.redis_url, "TS_ES_URL": settings.es_url,
           "TS_STREAM_PREFIX": settings.stream_prefix, "TS_ES_INDEX_PREFIX": settings.es_index_prefix}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from trustscope.cli.main import app
    from trustscope.settings import get_settings

    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(app, ["scores", "rebuild", "--check"])
        assert ok.exit_code == 0, ok.output
        lines = [orjson.loads(line) for line in ok.output.splitlines() if line.startswith("{")]
        assert {line["platform"] for line in lines} == set(platforms) and all(x["agrees"] for x in lines)
        rclient.hincrbyfloat(store.state_key(platforms[0]), "a:total", 1)
        bad = CliRunner().invoke(app, ["scores", "rebuild", "--check"])
        assert bad.exit_code == 1
        fixed = CliRunner().invoke(app, ["scores", "rebuild", "-p", platforms[0]])
        assert fixed.exit_code == 0
        assert compare(store.state(platforms[0]), recompute(es, alias, platforms[0]).state) == {}
        assert store.history(platforms[0], 1)
    finally:
        get_settings.cache_clear()
