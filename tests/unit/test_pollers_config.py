"""The pollers' YAML: the shipped example loads, mistakes fail at start-up naming the source and field."""

from pathlib import Path

import pytest

from trustscope.pollers.config import ConfigError, FeedSource, JsonSource, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "pollers.example.yaml"
JSON_FIELDS = {"source_id": "id", "text": "content", "created_at": "published"}


def test_example_config_loads(monkeypatch):
    monkeypatch.setenv("EXAMPLE_COMPLAINTS_TOKEN", "s3cret")
    config = load_config(EXAMPLE)
    names = [s.name for s in config.sources]
    assert names == ["example-finance-news", "example-lending-blog", "example-complaints"]
    assert [s.name for s in config.enabled_sources] == ["example-finance-news", "example-complaints"]
    news, _, complaints = config.sources
    assert isinstance(news, FeedSource) and news.interval_s == 120 and news.timeout_s == 15  # default merged
    assert isinstance(complaints, JsonSource)
    assert complaints.headers["Authorization"] == "Bearer s3cret"
    assert complaints.fields["text"] == ["content", "summary"] and complaints.fields["source_id"] == ["id"]
    assert complaints.source_name == "example-complaints" and news.source_name == "example-news"


def test_missing_env_var_is_named(monkeypatch):
    monkeypatch.delenv("EXAMPLE_COMPLAINTS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="EXAMPLE_COMPLAINTS_TOKEN is not set"):
        load_config(EXAMPLE)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read pollers config"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [\n  - name: x\n", "utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", "utf-8")
    assert load_config(empty).sources == []


@pytest.mark.parametrize(("source", "message"), [
    ({"name": "a", "type": "rss", "url": "http://x.test"}, "sources[a]"),
    ({"name": "a", "type": "feed", "url": "not a url"}, "sources[a].url"),
    ({"name": "a", "type": "feed", "url": "http://x.test", "kind": "review"}, "feeds carry no ratings"),
    ({"name": "a", "type": "feed", "url": "http://x.test", "intervall_s": 5}, "intervall_s"),
    ({"name": "a b", "type": "feed", "url": "http://x.test"}, "sources[a b].name"),
    ({"name": "a", "type": "json", "url": "http://x.test", "fields": {"source_id": "id", "text": "t"}},
     "required target(s) not mapped: ['created_at']"),
    ({"name": "a", "type": "json", "url": "http://x.test", "fields": {**JSON_FIELDS, "stars": "s"}},
     "unknown target(s) ['stars']"),
    ({"name": "a", "type": "json", "url": "http://x.test", "kind": "review", "fields": JSON_FIELDS},
     "needs a 'rating' field mapping"),
    ({"name": "a", "type": "json", "url": "http://x.test", "fields": {**JSON_FIELDS, "rating": "r"}},
     "'rating' can only be mapped for kind 'review'"),
])
def test_invalid_sources_are_reported(source, message):
    with pytest.raises(ConfigError) as info:
        parse_config({"sources": [source]})
    assert message in str(info.value)


def test_duplicate_names_and_shape_errors():
    src = {"name": "a", "type": "feed", "url": "http://x.test"}
    with pytest.raises(ConfigError, match="repeated: \\['a'\\]"):
        parse_config({"sources": [src, src]})
    with pytest.raises(ConfigError, match="must be a list"):
        parse_config({"sources": {"a": src}})
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config([src])


def test_defaults_are_overridden_by_the_source():
    config = parse_config({"defaults": {"interval_s": 60, "retry": {"attempts": 2}},
                           "sources": [{"name": "a", "type": "feed", "url": "http://x.test"},
                                       {"name": "b", "type": "feed", "url": "http://x.test", "interval_s": 5}]})
    assert [s.interval_s for s in config.sources] == [60, 5]
    assert config.sources[0].retry.attempts == 2
