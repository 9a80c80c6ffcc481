"""Pure parts of the regulator search: query preparation, cursors, significant-term scoring, CSV cells."""

from __future__ import annotations

import pytest

from services.gateway.queries import (
    CursorCodec,
    CursorError,
    SearchFilters,
    filter_clauses,
    prepare_text,
    text_query,
)
from services.gateway.routers.search import _cell


def test_chinese_runs_become_phrases_and_operators_survive():
    assert prepare_text("提現困難") == '"提现困难"'
    assert prepare_text("催收 -同事") == '"催收" -"同事"'
    assert prepare_text('"已 引用" | 跑路') == '"已 引用" | "跑路"'
    assert prepare_text('未闭合"引号') == '"未闭合" "引号"'  # the unfinished quote is dropped, not sent
    q = text_query("催收")["simple_query_string"]
    assert "query_string" not in str(text_query("x")).replace("simple_query_string", "")
    assert "REGEXP" not in q["flags"] and "PREFIX" not in q["flags"] and "FUZZY" not in q["flags"]


def test_cursor_is_signed_and_bound_to_its_query():
    codec = CursorCodec(b"secret")
    f = SearchFilters(q="催收", platforms=["ppdai"])
    fp = f.fingerprint("newest")
    token = codec.encode({"pit": "p", "after": [1, 2], "fp": fp})
    assert codec.decode(token, fp)["after"] == [1, 2]
    with pytest.raises(CursorError):
        codec.decode(token, SearchFilters(q="催收").fingerprint("newest"))
    with pytest.raises(CursorError):
        CursorCodec(b"other").decode(token, fp)
    for bad in ("", "!!", "a.b.c", token[:-2], token.replace(".", "")):
        with pytest.raises(CursorError):
            codec.decode(bad, fp)


def test_filters_cover_every_field():
    from datetime import datetime, timezone

    f = SearchFilters(platforms=["a", "b"], kind="review", source="s", sentiment="negative", verdict="fake",
                      rumour_min=0.2, rumour_max=0.8, since=datetime(2026, 1, 1, tzinfo=timezone.utc))
    clauses = filter_clauses(f)
    assert {"terms": {"platforms": ["a", "b"]}} in clauses
    assert {"range": {"rumour.score": {"gte": 0.2, "lte": 0.8}}} in clauses
    assert len(clauses) == 7
    assert f.audit()["since"].startswith("2026-01-01")


def test_phrases_are_the_distinct_chinese_bigrams_and_trigrams():
    from trustscope.es.derived import phrases, with_derived

    assert phrases("催收电话，催收！ok") == ["催收", "收电", "电话", "催收电", "收电话"]
    assert phrases(None) == [] and phrases("abc 好") == []
    doc = {"text_simplified": "提现困难"}
    assert with_derived(doc)["phrases"][:3] == ["提现", "现困", "困难"] and "phrases" not in doc


def test_csv_cells_cannot_run_formulas():
    assert _cell("=1+1") == "'=1+1" and _cell("@SUM(A1)") == "'@SUM(A1)" and _cell("-2") == "'-2"
    assert _cell(["a", "b"]) == "a|b" and _cell(None) == "" and _cell("正常文本") == "正常文本"
