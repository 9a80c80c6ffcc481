"""Unit tests of the shared core: normalisation, ids, the document model, linking, keys."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from services.gateway.queries import decode_cursor, encode_cursor
from trustscope.auth import KeyRing
from trustscope.es.indices import load_template
from trustscope.ids import document_id
from trustscope.importer import map_record
from trustscope.platforms import PlatformLinker, default_platforms
from trustscope.rumour.lexicon import score_text
from trustscope.schemas import Document, DocumentIn, parse_time
from trustscope.text import detect_language, normalize_text, to_simplified

BASE = {"kind": "review", "source": "app-store", "source_id": "1", "text": "很好用", "rating": 5,
        "created_at": "2026-01-01T00:00:00Z"}


def test_normalize_removes_invisible_and_folds_width():
    assert normalize_text("\u200b平\u200d台ｐ２ｐ\u3000\u3000跑路\x07 ") == "平台p2p 跑路"
    assert to_simplified("提現困難") == "提现困难"
    assert detect_language("平台提现困难") == "zh"
    assert detect_language("great app, fast payout") == "en"
    assert detect_language("12345 !!") == "und"


def test_document_id_is_stable_and_source_scoped():
    assert document_id("weibo", "42") == document_id("Weibo ", "42")
    assert document_id("weibo", "42") != document_id("heimao", "42")
    assert len(document_id("a", "b")) == 32


def test_parse_time_accepts_iso_epoch_and_millis():
    t = parse_time("2026-01-01T08:00:00+08:00")
    assert t == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_time(1767225600) == t
    assert parse_time("1767225600000") == t
    with pytest.raises(ValueError):
        parse_time("next tuesday")
    with pytest.raises(ValueError):
        parse_time(True)


def test_document_validation_rules():
    doc = DocumentIn.model_validate(BASE).to_document(["alipay"])
    assert doc.id == document_id("app-store", "1") and doc.text_simplified == "很好用"
    assert doc.stages["ingest"] == doc.ingested_at
    for bad in ({"rating": None}, {"rating": 6}, {"kind": "news"}, {"text": "\u200b"}, {"source": "a b"},
                {"created_at": (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()},
                {"extra_field": 1}, {"url": "ftp://x"}):
        with pytest.raises(ValidationError):
            DocumentIn.model_validate({**BASE, **bad})


def test_changed_text_changes_content_hash_only():
    a = DocumentIn.model_validate(BASE).to_document([])
    b = DocumentIn.model_validate({**BASE, "text": "很好用，推荐"}).to_document([])
    assert a.id == b.id and a.content_hash != b.content_hash


def test_mapping_covers_every_document_field():
    """The strict ES mapping and the pydantic model must not drift apart; the only mapped field
    the model lacks is the one the indexer derives (never in _source)."""
    from trustscope.es.derived import PHRASE_FIELD

    mappings = load_template("x")["template"]["mappings"]
    assert set(Document.model_fields) | {PHRASE_FIELD} == set(mappings["properties"])
    assert PHRASE_FIELD not in Document.model_fields and mappings["_source"]["excludes"] == [PHRASE_FIELD]


def test_linker_matches_aliases_traditional_and_domains():
    linker = PlatformLinker(default_platforms())
    assert linker.link_text("京東白條額度被降了") == ["jd-finance"]
    assert linker.link_text("I use ALIPAY daily") == ["alipay"]
    assert linker.link_text("jdbc driver, alipayment") == []
    assert linker.link_url("https://m.lu.com/a") == ["lufax"]
    assert linker.link(["qifu"], None, "花呗") == ["huabei", "qifu"]


def test_default_registry_is_valid():
    platforms = default_platforms()
    assert len(platforms) >= 30
    assert len({p.id for p in platforms}) == len(platforms)


def test_keyring_roles():
    ring = KeyRing("k1:ingest, k2:reader+alerts,k3:admin")
    assert ring.lookup("k1").has("ingest") and not ring.lookup("k1").has("reader")
    assert ring.lookup("k2").has("alerts") and ring.lookup("k3").has("reader")
    assert ring.lookup("nope") is None and ring.lookup(None) is None
    with pytest.raises(ValueError):
        KeyRing("k:superuser")
    with pytest.raises(ValueError):
        KeyRing("justakey")


def test_rumour_lexicon_placeholder():
    assert score_text("这个平台跑路了，提现困难").score > 0.8
    assert score_text("到账很快").score == 0.0


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor([1767225600000, "abc"])) == [1767225600000, "abc"]
    with pytest.raises(Exception):
        decode_cursor("not-a-cursor")


def test_import_mapping_builds_nested_fields_and_casts():
    out = map_record({"评论": "好", "星": "4", "uid": "u1", "n": ""}, {"text": "评论", "rating": "星",
                     "author.id": "uid"}, {"kind": "review"})
    assert out == {"text": "好", "rating": 4, "author": {"id": "u1"}, "kind": "review"}
    assert json.dumps(out, ensure_ascii=False)


def test_cli_registers_every_command_group():
    """Every batch command the README documents is reachable from the one console script."""
    from typer.testing import CliRunner

    from trustscope.cli.main import app

    out = CliRunner().invoke(app, ["--help"]).output
    for command in ("import", "poll", "sentiment", "model", "integrity", "es", "platforms", "pipeline"):
        assert command in out
    pipeline = CliRunner().invoke(app, ["pipeline", "--help"]).output
    for command in ("status", "replay", "prune-consumers"):
        assert command in pipeline
