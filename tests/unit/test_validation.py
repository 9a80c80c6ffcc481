"""Intake validation matches the index mapping: what Elasticsearch would refuse is refused at intake."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from trustscope.schemas import (
    EARLIEST_TIME,
    MAX_INT32,
    MAX_PLATFORM_ID_CHARS,
    AuthorIn,
    Document,
    DocumentIn,
    parse_time,
)
from trustscope.settings import REPO_DIR

TEMPLATE = REPO_DIR / "infra" / "elasticsearch" / "docs-template.json"
LUCENE_MAX_TERM_BYTES = 32_766
BYTE_MAX = 127


def review(**patch):
    base = {"kind": "review", "source": "app-store", "source_id": "r-1", "rating": 4, "text": "到账很快",
            "created_at": "2026-01-01T00:00:00+08:00", "platforms": ["alipay"],
            "author": {"id": "u-1", "review_count": 3, "created_at": "2024-01-01T00:00:00Z"}}
    base.update(patch)
    return base


def fields_of(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def rejected_field(data) -> set[str]:
    with pytest.raises(ValidationError) as info:
        DocumentIn.model_validate(data)
    return fields_of(info.value)


# --- times -----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1e300, "1e300", "inf", "-inf", "nan", float("inf"), float("nan"), -1e20,
                                   "-1e20", 10**400, -(10**400), "0001-01-01T00:00:00+08:00",
                                   "9999-12-31T23:59:59-10:00", "9999-12-31T23:59:59", "0001-01-01",
                                   True, False, None, [], {}, "", "   ", "x" * 10_000, "2026-13-01",
                                   "2026-01-01T25:00:00"])
def test_parse_time_raises_only_value_error(value):
    with pytest.raises(ValueError):
        parse_time(value)


@pytest.mark.parametrize("value", [1e300, "inf", -1e20, "0001-01-01T00:00:00+08:00",
                                   "9999-12-31T23:59:59-10:00", "1999-12-31T23:59:59Z", True])
def test_out_of_range_created_at_is_a_field_error(value):
    assert rejected_field(review(created_at=value)) == {"created_at"}
    assert rejected_field(review(author={"id": "u", "created_at": value})) == {"author.created_at"}


def test_future_created_at_beyond_the_skew_is_refused():
    soon = datetime.now(timezone.utc) + timedelta(hours=1)
    assert DocumentIn.model_validate(review(created_at=soon.isoformat())).created_at == soon
    later = datetime.now(timezone.utc) + timedelta(days=2)
    assert rejected_field(review(created_at=later.isoformat())) == {"created_at"}


def test_accepted_time_forms_agree():
    expected = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for value in ["2026-01-01T08:00:00+08:00", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00",
                  1767225600, 1767225600.0, "1767225600", 1767225600000]:
        assert parse_time(value) == expected, value
    assert DocumentIn.model_validate(review(created_at=EARLIEST_TIME.isoformat())).created_at == EARLIEST_TIME


# --- numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rating", [True, False, "4", 4.0, 4.5, 0, 6, -1, 2**63, None])
def test_rating_is_a_strict_integer_in_one_to_five(rating):
    assert rejected_field(review(rating=rating)) <= {"rating", ""}


@pytest.mark.parametrize("count", [3_000_000_000, MAX_INT32 + 1, -1, True, "7", 7.0, 10**30])
def test_review_count_fits_the_integer_mapping(count):
    assert rejected_field(review(author={"id": "u", "review_count": count})) == {"author.review_count"}


def test_review_count_limits_are_inclusive():
    doc = DocumentIn.model_validate(review(author={"id": "u", "review_count": MAX_INT32}))
    assert doc.author is not None and doc.author.review_count == MAX_INT32
    assert DocumentIn.model_validate(review(author={"id": "u", "review_count": 0})).author.review_count == 0


# --- keywords --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["a\x00b", "a\nb", "a\tb", "a\rb", "a\u200bb", "a\u202eb", "a\x7fb", "a\x85b",
                                 "a\u2028b", "a\ufeffb"])
def test_no_control_or_invisible_characters_in_ids(bad):
    assert rejected_field(review(source_id=bad)) == {"source_id"}
    assert rejected_field(review(author={"id": bad})) == {"author.id"}
    assert rejected_field(review(platforms=[bad])) == {"platforms"}


def test_ids_are_trimmed_not_refused_for_outer_whitespace():
    assert DocumentIn.model_validate(review(source_id="  r-9\n")).source_id == "r-9"


@pytest.mark.parametrize("patch,field", [
    ({"platforms": ["x" * 40_000]}, "platforms.0"),
    ({"platforms": ["x" * (MAX_PLATFORM_ID_CHARS + 1)]}, "platforms.0"),
    ({"platforms": ["Not A Slug"]}, "platforms"),
    ({"platforms": [f"p{i}" for i in range(21)]}, "platforms"),
    ({"source_id": "x" * 301}, "source_id"),
    ({"source": "s" * 101}, "source"),
    ({"source": "has space"}, "source"),
    ({"author": {"id": "x" * 201}}, "author.id"),
    ({"author": {"id": "u", "name": "n" * 201}}, "author.name"),
    ({"language": "x" * 11}, "language"),
    ({"language": "z h"}, "language"),
    ({"url": "https://example.com/" + "a" * 5000}, "url"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"title": "t" * 1001}, "title"),
    ({"text": "字" * 20_001}, "text"),
    ({"text": "字" * 200_000}, "text"),
])
def test_lengths_and_formats(patch, field):
    assert field in rejected_field(review(**patch))


def test_platform_ids_are_lowercased_and_deduplicated():
    assert DocumentIn.model_validate(review(platforms=["Alipay", " alipay ", "jd-finance"])).platforms == [
        "alipay", "jd-finance"]


def test_author_name_is_normalised_to_one_line():
    assert AuthorIn.model_validate({"id": "u", "name": "老\u200b王\n  小"}).name == "老王 小"


# --- the mapping and the model agree ---------------------------------------------------------
def _mapping() -> dict:
    return json.loads(TEMPLATE.read_text())["template"]["mappings"]["properties"]


def _max_chars(model, name: str) -> int | None:
    info = model.model_fields[name]
    for meta in info.metadata:
        if getattr(meta, "max_length", None) is not None:
            return int(meta.max_length)
    return None


#: Document keyword fields filled from the client's DocumentIn, and where their limit lives.
KEYWORD_SOURCES = {
    "source": (DocumentIn, "source"), "source_id": (DocumentIn, "source_id"),
    "author_id": (AuthorIn, "id"), "author_name": (AuthorIn, "name"), "language": (DocumentIn, "language"),
}


def test_every_client_keyword_has_a_length_below_the_lucene_term_limit():
    props = _mapping()
    for field, (model, name) in KEYWORD_SOURCES.items():
        assert props[field]["type"] == "keyword"
        limit = _max_chars(model, name)
        assert limit is not None and limit * 4 <= LUCENE_MAX_TERM_BYTES, field  # 4 bytes per char in UTF-8
    assert MAX_PLATFORM_ID_CHARS * 4 <= LUCENE_MAX_TERM_BYTES and props["platforms"]["type"] == "keyword"


def test_client_numbers_fit_their_numeric_mappings():
    props = _mapping()
    assert props["rating"]["type"] == "byte" and 5 <= BYTE_MAX
    assert props["author_review_count"]["type"] == "integer" and MAX_INT32 == 2**31 - 1
    for field in ("rating",):
        assert field in Document.model_fields


def test_a_valid_document_becomes_a_pipeline_document():
    doc = DocumentIn.model_validate(review()).to_document(["alipay"])
    assert doc.rating == 4 and doc.author_review_count == 3 and len(doc.id) == 32
