"""Indexer stage: documents from ``verified`` are bulk-written to Elasticsearch.

Writes are idempotent and ordered by integrity revision: each document is indexed under its stable
id with ``version_type=external_gte`` and ``version`` = its verdict revision. A replayed message
rewrites the same version (no change); a stale one (an original arriving after its revision) is
refused by Elasticsearch with a version conflict, which here means "already newer", not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from elasticsearch import Elasticsearch, helpers

from trustscope.bus import Message
from trustscope.es import DocIndices
from trustscope.observability import INDEXED_DOCUMENTS, get_logger
from trustscope.schemas import utcnow

SOURCE = "verified"

log = get_logger("trustscope.indexer")


class IndexingError(RuntimeError):
    """Some documents of a batch were not written; the batch stays pending and is retried."""


class RevisionTargetMissing(IndexingError):
    """A verdict revision arrived before the document it revises was indexed."""


def _version(doc: dict[str, Any]) -> int:
    return int((doc.get("integrity") or {}).get("revision", 0))


class IndexerStage:
    name = "indexer"
    source = SOURCE
    dest = None

    def __init__(self, es: Elasticsearch, indices: DocIndices, scores: Any = None) -> None:
        self.es = es
        self.indices = indices
        self.scores = scores  # trustscope.scores.ScoreStore: verified scores maintained as docs land

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        now = utcnow().isoformat().replace("+00:00", "Z")
        full: dict[str, dict[str, Any]] = {}
        revisions: dict[str, dict[str, Any]] = {}
        for m in messages:
            doc = orjson.loads(m.fields["doc"])
            if m.fields.get("op") == "revise":
                prev = revisions.get(doc["id"])
                if prev is None or _version(doc) >= _version(prev):
                    revisions[doc["id"]] = doc
            else:
                doc.setdefault("stages", {})["index"] = now
                prev = full.get(doc["id"])
                if prev is None or _version(doc) >= _version(prev):
                    full[doc["id"]] = doc
        # A revision of a document in this same batch is applied to it directly.
        for rid in list(revisions):
            if rid in full and _version(revisions[rid]) >= _version(full[rid]):
                full[rid]["integrity"] = revisions.pop(rid)["integrity"]
        if revisions:
            self._merge_revisions(revisions, full)
        self._bulk(full.values())
        if self.scores is not None:
            self.scores.apply_documents(full.values())
        return []

    def _merge_revisions(self, revisions: dict[str, dict[str, Any]], full: dict[str, dict[str, Any]]) -> None:
        found = self.es.mget(index=self.indices.read_alias, ids=list(revisions))
        missing = []
        for hit in found["docs"]:
            rid = hit["_id"]
            if not hit.get("found"):
                missing.append(rid)
                continue
            source = hit["_source"]
            if _version(revisions[rid]) > _version(source):
                source["integrity"] = revisions[rid]["integrity"]
                full[rid] = source
        if missing:
            raise RevisionTargetMissing(f"{len(missing)} revised documents not indexed yet: {missing[:3]}")

    def _bulk(self, docs: Any) -> None:
        actions = [
            {"_op_type": "index", "_index": self.indices.write_alias, "_id": d["id"],
             "version": _version(d), "version_type": "external_gte", "_source": d}
            for d in docs
        ]
        if not actions:
            return
        _ok, errors = helpers.bulk(self.es, actions, raise_on_error=False, stats_only=False,
                                   max_retries=3, initial_backoff=1)
        failed = [e for e in errors if e.get("index", {}).get("status") != 409]  # type: ignore[union-attr]
        stale = len(errors) - len(failed)  # type: ignore[arg-type]
        INDEXED_DOCUMENTS.labels("index").inc(len(actions) - len(errors))  # type: ignore[arg-type]
        if stale:
            INDEXED_DOCUMENTS.labels("stale_skipped").inc(stale)
        if failed:
            raise IndexingError(f"{len(failed)} of {len(actions)} documents failed: {failed[:2]}")


def build(settings: Any, _client: Any) -> IndexerStage:
    from trustscope.es import make_client
    from trustscope.scores import ScoreStore

    es = make_client(settings)
    indices = DocIndices(settings.es_index_prefix)
    indices.migrate(es)
    return IndexerStage(es, indices, ScoreStore(_client, settings.stream_prefix))
