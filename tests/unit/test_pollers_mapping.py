"""The JSON field mapping: dotted paths, alternatives, coercions, and bad items skipped with a reason."""

from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

from trustscope.pollers.config import parse_config
from trustscope.pollers.jsonapi import parse_json
from trustscope.pollers.mapping import MappingError, apply_mapping, get_path, items_at

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pollers"
FIELDS = {"source_id": "id", "text": ["content", "summary"], "title": "title", "created_at": "published",
          "url": "link", "author.id": "user.id", "author.name": "user.nickname", "rating": "stars"}


def json_source(**overrides):
    src = {"name": "complaints", "type": "json", "url": "http://api.test.invalid/c", "kind": "review",
           "items_path": "data.items", "html": True, "fields": FIELDS, **overrides}
    return parse_config({"sources": [src]}).sources[0]


def test_get_path_dotted_and_indexed():
    obj = {"a": {"b": [{"c": 1}, {"c": 2}]}, "s": "text"}
    assert get_path(obj, "a.b.1.c") == 2
    assert get_path(obj, "a.b.-1.c") == 2
    assert get_path(obj, "a.b.5.c") is None
    assert get_path(obj, "a.x.c") is None
    assert get_path(obj, "s.0") is None  # strings are not indexed
    assert get_path(obj, "") is obj


def test_items_at_errors_name_the_path():
    assert items_at({"data": {"items": []}}, "data.items") == []
    assert items_at([1, 2], "") == [1, 2]
    with pytest.raises(MappingError, match="no items at 'data.rows'"):
        items_at({"data": {}}, "data.rows")
    with pytest.raises(MappingError, match="expected a list"):
        items_at({"data": {"items": {"id": 1}}}, "data.items")


def test_apply_mapping_alternatives_coercions_and_author():
    fields = {k: [v] if isinstance(v, str) else v for k, v in FIELDS.items()}
    item = {"id": 7, "summary": "摘要", "published": 1795608000, "stars": 4.0, "user": {"id": 42}}
    out = apply_mapping(item, fields)
    assert out["source_id"] == "7" and out["text"] == "摘要" and out["rating"] == 4
    assert out["author"] == {"id": "42"}
    assert "title" not in out and "url" not in out
    no_author_id = apply_mapping({**item, "user": {"nickname": "匿名"}}, fields)
    assert "author" not in no_author_id  # an author without id is left out, the item is kept
    with pytest.raises(MappingError, match="text: nothing at content | summary"):
        apply_mapping({"id": 1, "published": 1}, fields)
    with pytest.raises(MappingError, match="not an object"):
        apply_mapping(["not", "a", "dict"], fields)


def test_parse_fixture_keeps_good_items_and_logs_bad_ones():
    with capture_logs() as logs:
        parsed = parse_json((FIXTURES / "complaints_api.json").read_bytes(), json_source())
    assert [i.source_id for i in parsed.items] == ["88001", "88002", "88003"]
    first = parsed.items[0]
    assert first.text == "宣传说日息万分之二,实际算下来年化超过30%,要求退还多收利息。"  # HTML stripped, NFKC
    assert first.rating == 1 and first.author.id == "u-1024" and first.author.name == "维权的小张"
    assert parsed.items[1].author.id == "2048" and parsed.items[1].rating == 4
    assert parsed.items[2].created_at.isoformat() == "2026-11-25T14:00:00+00:00"  # epoch milliseconds
    reasons = {s.ref: s.reason for s in parsed.skipped}
    assert reasons == {"88004": "rating: Input should be less than or equal to 5",
                       "88005": "text: nothing at content | summary"}
    logged = [e for e in logs if e["event"] == "poller.item_skipped"]
    assert {(e["item"], e["source"]) for e in logged} == {("88004", "complaints"), ("88005", "complaints")}
    assert all(e["log_level"] == "warning" and e["reason"] for e in logged)


def test_platforms_from_config_and_items_are_merged():
    body = orjson.dumps([{"id": "a", "content": "好评", "published": "2026-11-01T00:00:00Z", "stars": 5,
                          "tags": "Alipay, huabei"}])
    cfg = json_source(items_path="", platforms=["jd-finance"], fields={**FIELDS, "platforms": "tags"})
    item = parse_json(body, cfg).items[0]
    assert item.platforms == ["alipay", "huabei", "jd-finance"]


def test_html_flag_off_keeps_markup_and_bad_bodies_raise():
    body = orjson.dumps({"data": {"items": [{"id": 1, "content": "<b>原样</b>", "published": 1764547200, "stars": 3}]}})
    assert parse_json(body, json_source(html=False)).items[0].text == "<b>原样</b>"
    with pytest.raises(MappingError, match="not JSON"):
        parse_json(b"<html>error page</html>", json_source())
    with pytest.raises(MappingError, match="no items"):
        parse_json(b'{"code": 500}', json_source())


def test_items_of_wrong_type_are_skipped_not_fatal():
    body = orjson.dumps({"data": {"items": ["just a string", {"id": 2, "content": "正文", "published": 1764547200,
                                                               "stars": 3}]}})
    parsed = parse_json(body, json_source())
    assert [i.source_id for i in parsed.items] == ["2"]
    assert parsed.skipped[0].ref == "item #1" and "not an object" in parsed.skipped[0].reason
