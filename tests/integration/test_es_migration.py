"""A mapping change moves the aliases to a new index and keeps every document, and the migration
is safe to run twice."""

from __future__ import annotations

import copy

import pytest

from trustscope.es import DocIndices
from trustscope.es.indices import load_template

pytestmark = pytest.mark.integration


def test_version_bump_reindexes_behind_aliases(settings, es):
    indices = DocIndices(settings.es_index_prefix)
    first = indices.migrate(es)
    shipped = indices.mapping_version()
    assert first["index"].endswith(f"-v{shipped}")
    assert indices.migrate(es)["migrated_from"] == []  # idempotent
    for i in range(25):
        es.index(index=indices.write_alias, id=str(i), document={"id": str(i), "kind": "review",
                                                                 "text": "平台跑路了", "text_simplified": "平台跑路了"})
    es.indices.refresh(index=indices.read_alias)

    v2 = copy.deepcopy(load_template(settings.es_index_prefix))
    v2["_meta"]["mapping_version"] = shipped + 1
    v2["template"]["mappings"]["properties"]["region"] = {"type": "keyword"}
    result = indices.migrate(es, template=v2)
    assert result["index"].endswith(f"-v{shipped + 1}") and result["copied"] == 25
    aliases = es.indices.get_alias(name=f"{settings.es_index_prefix}-docs*").body
    assert list(aliases[result["index"]]["aliases"]) == sorted([indices.read_alias, indices.write_alias])
    assert es.count(index=indices.read_alias)["count"] == 25
    hits = es.search(index=indices.read_alias, query={"match_phrase": {"text_simplified": "跑路"}})
    assert hits["hits"]["total"]["value"] == 25
    # derived fields (not in _source) are derived again for every copied document
    assert es.count(index=indices.read_alias, query={"term": {"phrases": "跑路"}})["count"] == 25
    assert "phrases" not in hits["hits"]["hits"][0]["_source"]
    again = indices.migrate(es, template=v2)
    assert again["migrated_from"] == [] and again["copied"] == 0


def test_sentiment_heads_are_accepted_by_the_strict_mapping(settings, es):
    """Model heads (``sentiment.heads.<name>``) are open-ended: each new head maps as a float."""
    indices = DocIndices(settings.es_index_prefix)
    indices.migrate(es)
    doc = {"id": "h1", "kind": "review", "text": "好评返现", "text_simplified": "好评返现",
           "sentiment": {"label": "positive", "score": 0.8, "prob_positive": 0.9, "scored": True,
                         "model": "m", "heads": {"paid_review": 0.91, "future_head": 1}}}
    es.index(index=indices.write_alias, id="h1", document=doc, refresh=True)
    mapping = es.indices.get_mapping(index=indices.write_alias).body
    heads = next(iter(mapping.values()))["mappings"]["properties"]["sentiment"]["properties"]["heads"]
    assert {k: v["type"] for k, v in heads["properties"].items()} == {"paid_review": "float",
                                                                        "future_head": "float"}
    hits = es.search(index=indices.read_alias, query={"range": {"sentiment.heads.paid_review": {"gte": 0.9}}})
    assert hits["hits"]["total"]["value"] == 1
