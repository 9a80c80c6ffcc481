"""Indexer stage: documents from ``verified`` are bulk-written to Elasticsearch.

Writes are idempotent and ordered by integrity revision: each document is indexed under its stable
id with ``version_type=external_gte`` and ``version`` = its verdict revision. A replayed message
rewrites the same version (no change); a stale one (an original arriving after its revision) is
refused by Elasticsearch with a version conflict, which here means "already newer", not an error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from trustscope.bus import Message
from trustscope.es import DocIndices
from trustscope.es.derived import with_derived
from trustscope.observability import BULK_ITEM_ERRORS, INDEXED_DOCUMENTS, get_logger
from trustscope.resilience import ELASTICSEARCH, REDIS, TRANSIENT_STATUSES, DependencyDown
from trustscope.schemas import utcnow
from trustscope.worker import BatchResult

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
    dependencies = (REDIS, ELASTICSEARCH)

    def __init__(self, es: Elasticsearch, indices: DocIndices, item_retries: int = 3,
                 item_backoff_s: float = 0.25, scores: Any = None, rollups: Any = None) -> None:
        self.es = es
        self.indices = indices
        self.item_retries = item_retries
        self.item_backoff_s = item_backoff_s
        self.scores = scores  # trustscope.scores.ScoreStore: verified scores maintained as docs land
        self.rollups = rollups  # trustscope.es.rollup.SentimentRollups: daily sentiment rollups
        # (id, version) written by a batch that then failed on other items: skipped on its retry,
        # so a 429 on some items re-sends only those
        self._written: set[tuple[str, int]] = set()

    def process(self, messages: Sequence[Message]) -> BatchResult:
        now = utcnow().isoformat().replace("+00:00", "Z")
        full: dict[str, dict[str, Any]] = {}
        revisions: dict[str, dict[str, Any]] = {}
        owners: dict[str, list[str]] = {}  # document id -> the messages that carry it
        for m in messages:
            doc = orjson.loads(m.fields["doc"])
            owners.setdefault(doc["id"], []).append(m.id)
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
        refused = self._bulk(list(full.values()))
        self._written.clear()
        if self.scores is not None:  # after the bulk: an outage raises before any score moves
            self.scores.apply_documents(doc for doc_id, doc in full.items() if doc_id not in refused)
        if self.rollups is not None:  # after the bulk too: a mark must follow the write it covers
            self.rollups.after_batch(full.values())
        rejected = {mid: refusal for doc_id, refusal in refused.items() for mid in owners.get(doc_id, [])}
        return BatchResult([], rejected)

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

    def _bulk(self, docs: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
        """Write ``docs``; returns the refused ones (id -> (reason, detail)).

        Per item: 2xx and 409 (already newer) are done; 429 and 5xx are retried alone with a short
        backoff, and if they keep failing the batch is handed back as an outage (DependencyDown);
        any other status (a mapping refusal) is this document's own fault and returned at once.
        Connection errors and timeouts of the whole request propagate (the worker waits them out).
        """
        todo = [d for d in docs if (d["id"], _version(d)) not in self._written]
        refused: dict[str, tuple[str, str]] = {}
        stale = written = 0
        for attempt in range(self.item_retries + 1):
            if not todo:
                break
            if attempt:
                time.sleep(self.item_backoff_s * (2 ** (attempt - 1)) * (1 + random.random()))
            operations: list[dict[str, Any]] = []
            for d in todo:
                operations.append({"index": {"_index": self.indices.write_alias, "_id": d["id"],
                                             "version": _version(d), "version_type": "external_gte"}})
                operations.append(with_derived(d))  # + fields derived for aggregations (phrases)
            resp = self.es.bulk(operations=operations)
            retry = []
            for d, item in zip(todo, resp["items"], strict=True):
                res = item.get("index") or next(iter(item.values()))
                status = int(res.get("status", 500))
                if status < 300 or status == 409:
                    stale += status == 409
                    written += status < 300
                    self._written.add((d["id"], _version(d)))
                elif status in TRANSIENT_STATUSES:
                    retry.append(d)
                else:
                    err = res.get("error") or {}
                    reason = str(err.get("type", f"http_{status}")) if isinstance(err, dict) else f"http_{status}"
                    detail = str(err.get("reason", err))[:500] if isinstance(err, dict) else str(err)[:500]
                    caused = err.get("caused_by", {}) if isinstance(err, dict) else {}
                    if isinstance(caused, dict) and caused.get("reason"):
                        detail += f" (caused by: {str(caused['reason'])[:300]})"
                    refused[d["id"]] = (reason, f"{status} {reason}: {detail}")
            if retry:
                BULK_ITEM_ERRORS.labels("retried").inc(len(retry))
            todo = retry
        if refused:
            BULK_ITEM_ERRORS.labels("rejected").inc(len(refused))
        INDEXED_DOCUMENTS.labels("index").inc(written)
        if stale:
            INDEXED_DOCUMENTS.labels("stale_skipped").inc(stale)
        if todo:
            raise DependencyDown(ELASTICSEARCH, f"{len(todo)} of {len(docs)} bulk items still refused "
                                                f"with 429/5xx after {self.item_retries} retries")
        return refused


def build(settings: Any, _client: Any) -> IndexerStage:
    from trustscope.es import make_client
    from trustscope.es.rollup import SentimentRollups
    from trustscope.scores import ScoreStore

    # the worker does the waiting: no transport-level retries of 429/5xx (they would come back
    # at once, a busy loop against an overloaded node); connection errors still try other nodes
    es = make_client(settings).options(retry_on_status=())
    indices = DocIndices(settings.es_index_prefix)
    indices.migrate(es)
    rollups = SentimentRollups(es, _client, indices, settings.stream_prefix, tz=settings.rollup_tz)
    rollups.ensure_built()
    return IndexerStage(es, indices, scores=ScoreStore(_client, settings.stream_prefix), rollups=rollups)
