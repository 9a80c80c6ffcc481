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
    assert first["index"].endswith("-v1")
    assert indices.migrate(es)["migrated_from"] == []  # idempotent
    for i in range(25):
        es.index(index=indices.write_alias, id=str(i), document={"id": str(i), "kind": "review",
                                                                 "text": "平台跑路了", "text_simplified": "平台跑路了"})
    es.indices.refresh(index=indices.read_alias)

    v2 = copy.deepcopy(load_template(settings.es_index_prefix))
    v2["_meta"]["mapping_version"] = 2
    v2["template"]["mappings"]["properties"]["region"] = {"type": "keyword"}
    result = indices.migrate(es, template=v2)
    assert result["index"].endswith("-v2") and result["copied"] == 25
    aliases = es.indices.get_alias(name=f"{settings.es_index_prefix}-docs*").body
    assert list(aliases[result["index"]]["aliases"]) == sorted([indices.read_alias, indices.write_alias])
    assert es.count(index=indices.read_alias)["count"] == 25
    hits = es.search(index=indices.read_alias, query={"match_phrase": {"text_simplified": "跑路"}})
    assert hits["hits"]["total"]["value"] == 25
    again = indices.migrate(es, template=v2)
    assert again["migrated_from"] == [] and again["copied"] == 0
