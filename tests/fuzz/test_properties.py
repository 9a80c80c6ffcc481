"""Property tests (hypothesis, bounded): normalisation, document ids, time parsing, score formulas."""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from trustscope.ids import content_hash, document_id
from trustscope.integrity.score import PRIOR_DIST, ScoreAccumulator, verified_score
from trustscope.schemas import PARSE_MAX, PARSE_MIN, DocumentIn, parse_time
from trustscope.text import _INVISIBLE, normalize_text

BOUNDED = settings(max_examples=300, deadline=None)
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80)
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=10), kids, max_size=4), max_leaves=12)


# --- normalisation ---------------------------------------------------------------------------
@BOUNDED
@given(st.text())
@example("e\u200b\u0301")  # an invisible character between a letter and its combining mark
@example("\u00a0\u3000a\r\n\r\n\r\n\r\nb\ufeff")
def test_normalize_text_is_idempotent_and_leaves_nothing_invisible(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert not _INVISIBLE.search(once)
    assert once == once.strip()
    assert unicodedata.is_normalized("NFKC", once)
    assert "\r" not in once and "\n\n\n" not in once


@BOUNDED
@given(st.text(), st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\x00"]))
def test_invisible_characters_cannot_split_a_text_for_duplicate_detection(text, invisible):
    spliced = invisible.join(text)
    assert normalize_text(spliced) == normalize_text(text)


# --- document ids ----------------------------------------------------------------------------
sources = st.from_regex(r"[A-Za-z0-9_.:\-]{1,20}", fullmatch=True)
source_ids = st.text(min_size=1, max_size=40).filter(lambda s: s.strip())


@BOUNDED
@given(sources, source_ids)
def test_document_ids_are_stable_hex_and_ignore_case_and_padding_of_the_source(source, source_id):
    doc_id = document_id(source, source_id)
    assert len(doc_id) == 32 and all(c in "0123456789abcdef" for c in doc_id)
    assert document_id(source.upper(), source_id) == doc_id
    assert document_id(f"  {source} ", f" {source_id}\n") == doc_id


@BOUNDED
@given(sources, source_ids, sources, source_ids)
def test_different_items_get_different_ids(s1, i1, s2, i2):
    if (s1.lower(), i1.strip()) != (s2.lower(), i2.strip()):
        assert document_id(s1, i1) != document_id(s2, i2)


@BOUNDED
@given(st.lists(st.text(max_size=10) | st.none(), max_size=5), st.lists(st.text(max_size=10) | st.none(), max_size=5))
def test_content_hash_separates_its_parts(a, b):
    if [x or "" for x in a] != [x or "" for x in b] and not any("\x1f" in (x or "") for x in a + b):
        assert content_hash(*a) != content_hash(*b)


# --- time parsing ----------------------------------------------------------------------------
@settings(max_examples=600, deadline=None)
@given(json_values)
@example(1e300)
@example("-1e20")
@example("0001-01-01T00:00:00+08:00")
@example("9999-12-31T23:59:59-10:00")
@example(10**400)
def test_parse_time_raises_nothing_but_value_error_and_stays_in_range(value):
    try:
        dt = parse_time(value)
    except ValueError:
        return
    assert dt.tzinfo is not None and dt.utcoffset() == timedelta(0)
    assert PARSE_MIN <= dt < PARSE_MAX


@BOUNDED
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8)),
                                               timezone(timedelta(hours=-10, minutes=-30))])))
def test_parse_time_round_trips_iso_and_epoch(dt):
    assert parse_time(dt.isoformat()) == dt
    assert abs(parse_time(dt.timestamp()) - dt) < timedelta(milliseconds=1)
    assert abs(parse_time(str(dt.timestamp())) - dt) < timedelta(milliseconds=1)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_created_at_is_accepted_or_a_field_error(value):
    base = {"kind": "news", "source": "s", "source_id": "1", "text": "t"}
    try:
        DocumentIn.model_validate({**base, "created_at": value})
    except ValidationError as exc:
        assert {e["loc"][0] for e in exc.errors()} == {"created_at"}


# --- score formulas --------------------------------------------------------------------------
reviews = st.lists(st.fixed_dictionaries({
    "rating": st.integers(1, 5),
    "verdict": st.sampled_from(["verified", "verified", "suspicious", "fake"]),
    "created_at": st.floats(NOW - 5 * 365 * 86400, NOW),
    "reasons": st.just(["burst: many at once"]),
}), max_size=60)


@BOUNDED
@given(reviews)
def test_score_and_interval_stay_within_one_to_five(items):
    s = verified_score(items, now=NOW)
    assert 1.0 <= s.interval[0] <= s.verified_score <= s.interval[1] <= 5.0
    assert s.total == len(items) and s.verified + s.suspicious + s.fake == len(items)
    if not items:
        assert math.isclose(s.verified_score, sum((k + 1) * p for k, p in enumerate(PRIOR_DIST)))
    if items:
        assert math.isclose(s.raw_average, sum(r["rating"] for r in items) / len(items))


@BOUNDED
@given(reviews, st.randoms(use_true_random=False))
def test_score_ignores_order_and_merging_equals_one_pass(items, rnd):
    whole = verified_score(items, now=NOW)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert math.isclose(verified_score(shuffled, now=NOW).verified_score, whole.verified_score, rel_tol=1e-9)
    cut = rnd.randint(0, len(items))
    left, right = ScoreAccumulator(), ScoreAccumulator()
    for r in items[:cut]:
        left.add(r)
    for r in items[cut:]:
        right.add(r)
    merged = left.merge(right).result(NOW)
    assert math.isclose(merged.verified_score, whole.verified_score, rel_tol=1e-9)
    assert merged.excluded == whole.excluded


@BOUNDED
@given(reviews, st.floats(NOW - 365 * 86400, NOW))
def test_a_verified_five_never_lowers_and_a_one_never_raises_and_fakes_change_nothing(items, when):
    base = verified_score(items, now=NOW).verified_score
    up = verified_score(items + [{"rating": 5, "verdict": "verified", "created_at": when}], now=NOW)
    down = verified_score(items + [{"rating": 1, "verdict": "verified", "created_at": when}], now=NOW)
    fake = verified_score(items + [{"rating": 5, "verdict": "fake", "created_at": when}], now=NOW)
    assert up.verified_score >= base - 1e-12 and down.verified_score <= base + 1e-12
    assert math.isclose(fake.verified_score, base, rel_tol=1e-12)


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_score_refuses_ratings_outside_one_to_five(rating):
    with pytest.raises(ValueError):
        verified_score([{"rating": rating, "created_at": NOW}], now=NOW)


