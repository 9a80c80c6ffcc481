"""Widget rendering and request parsing without servers: escaping, half stars, JSON-LD, languages."""

from __future__ import annotations

from services.gateway import widget
from services.gateway.routers.widgets import COMPONENT_PATH, target_of

BASE = "https://ts.example"


def _data(status: str = "ok", text: str = "好评") -> dict:
    score = {"status": status, "verified_score": 4.26 if status == "ok" else None, "stars": 4.5 if status == "ok" else None,
             "interval": [3.9, 4.6] if status == "ok" else None, "verified": 40 if status == "ok" else 3, "total": 50,
             "min_verified": 10, "excluded": {"burst": 6, "fake": 4}, "distribution": {"1": 2, "2": 1, "3": 5, "4": 12, "5": 20},
             "raw_average": 4.4, "half_life_days": 180.0, "prior_weight": 10.0, "formula": "f<x>"}
    return {"platform": {"id": "p1", "name_zh": "平台<b>", "name_en": "P & Co"}, "score": score,
            "reviews": [{"id": "d1", "rating": 5, "title": None, "text": text, "created_at": "2026-11-30T01:00:00Z",
                         "replies": [{"text": "<i>谢谢</i>", "created_at": "2026-11-30T02:00:00Z"}]}]}


def test_card_escapes_everything_and_half_stars_are_exact():
    card = widget.render_card(_data(text='<img src=x onerror="alert(1)">'), "en", BASE)
    assert "<img src=x" not in card and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in card
    assert "<i>谢谢</i>" not in card and "&lt;i&gt;谢谢&lt;/i&gt;" in card
    assert "平台<b>" not in card and "平台&lt;b&gt;" in card  # both names shown, escaped
    assert "P &amp; Co" in card and "f&lt;x&gt;" in card
    assert 'data-stars="4.5"' in card and '<rect width="108" height="24"/>' in card
    assert "Reply from the platform" in card and "burst" in card


def test_json_ld_only_with_a_score_and_cannot_close_its_tag():
    data = _data()
    data["platform"]["name_zh"] = "</script><script>alert(1)</script>"
    ld = widget.json_ld(data["platform"], data["score"], BASE)
    assert ld.count("</script>") == 1 and '"ratingValue":4.26' in ld and '"ratingCount":40' in ld
    assert widget.json_ld(_data("insufficient")["platform"], _data("insufficient")["score"], BASE) == ""
    card = widget.render_card(_data("insufficient"), "zh", BASE)
    assert "经核验的评价数量尚不足" in card and "ld+json" not in card


def test_badge():
    assert "4.3 ★ (40)" in widget.render_badge(_data(), "en")
    assert "评价不足" in widget.render_badge(_data("insufficient"), "zh")


def test_language_choice():
    assert widget.choose_lang("en", "zh-CN") == "en"
    assert widget.choose_lang(None, "fr-FR,en;q=0.8,zh;q=0.5") == "en"
    assert widget.choose_lang(None, "zh-TW,zh;q=0.9,en;q=0.8") == "zh"
    assert widget.choose_lang(None, None) == "zh" and widget.choose_lang("xx", None) == "zh"


def test_targets():
    assert target_of(COMPONENT_PATH, None, None).kind == "component"
    assert target_of("/widget/p1/badge.svg", "en", None).key == ("badge", "p1", "en")
    assert target_of("/widget/p1.js", None, "en").key == ("loader", "p1", "")
    assert target_of("/v1/widgets/p1", None, "en-US").key == ("json", "p1", "en")
    assert target_of("/widget/a/b/c", None, None) is None and target_of("/v1/search", None, None) is None


def test_etag_and_if_none_match():
    tag = widget.etag_of(b"x")
    assert widget.not_modified(tag, tag) and widget.not_modified(f'W/{tag}, "zz"', tag)
    assert not widget.not_modified('"other"', tag) and not widget.not_modified(None, tag)


def test_web_component_is_small_and_uses_no_html_sinks():
    import gzip
    from pathlib import Path

    source = (Path(widget.__file__).parent / "static" / "widget" / "trustscope-score.js").read_text("utf-8")
    assert len(gzip.compress(source.encode(), 9)) < 15_000
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, sink
    assert '"__TS_BASE_URL__"' in source  # the gateway fills in public_base_url here
