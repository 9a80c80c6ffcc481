"""The regulator audit log: every search, analytics query and export, who ran it and what it
returned, appended to a Redis stream and copied from there into its own Elasticsearch index, where
admins search it.

Why two steps: the request path pays one XADD (well under a millisecond) instead of an
Elasticsearch write, and the entry is durable (Redis AOF) before the answer leaves. A flusher thread
in every gateway process drains the stream through a consumer group into ``{prefix}-audit`` with
``op_type=create`` and the stream id as document id, so a retried or re-claimed batch can never
write an entry twice, and acknowledges only what Elasticsearch accepted. While Elasticsearch is down
entries wait in the stream. Append-only: nothing in TrustScope updates or deletes an entry (in
production give the gateway's Elasticsearch user ``create_doc`` but not ``index``/``delete`` on the
audit index, and snapshot it). If the entry cannot be appended the request fails (503): a regulator
query that cannot be recorded is not answered.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
import redis
from elasticsearch import Elasticsearch, NotFoundError, helpers

from trustscope.observability import get_logger

log = get_logger("trustscope.audit")

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "at": {"type": "date"},
        "key_id": {"type": "keyword"},
        "role": {"type": "keyword"},
        "label": {"type": "keyword"},
        "action": {"type": "keyword"},
        "endpoint": {"type": "keyword"},
        "query": {"type": "text", "analyzer": "standard", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
        "filters": {"type": "object", "enabled": False},
        "filters_json": {"type": "keyword", "ignore_above": 4096},
        "platforms": {"type": "keyword"},
        "result_count": {"type": "long"},
        "format": {"type": "keyword"},
        "status": {"type": "keyword"},
        "request_id": {"type": "keyword"},
        "client_ip": {"type": "keyword"},
        "duration_ms": {"type": "float"},
    },
}


@dataclass
class AuditEntry:
    key_id: str
    role: str
    action: str  # search | export | analytics
    endpoint: str
    query: str | None
    filters: dict[str, Any]
    result_count: int
    label: str = ""
    format: str | None = None
    status: str = "ok"  # ok | aborted (an export the client stopped reading)
    request_id: str = ""
    client_ip: str = ""
    duration_ms: float | None = None
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["at"] = self.at.isoformat()
        doc["filters_json"] = orjson.dumps(self.filters, option=orjson.OPT_SORT_KEYS).decode()
        doc["platforms"] = list(self.filters.get("platforms") or [])
        return doc


class AuditLog:
    GROUP = "audit-es"

    def __init__(self, es: Elasticsearch, prefix: str, client: redis.Redis | None = None,
                 stream_prefix: str | None = None) -> None:
        self.es = es
        self.index = f"{prefix}-audit"
        self.client = client
        self.stream = f"{stream_prefix or prefix}:audit"
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"

    def ensure(self) -> None:
        """Create the index (and the stream's consumer group) if missing; safe from many processes."""
        if not self.es.indices.exists(index=self.index):
            self.es.options(ignore_status=400).indices.create(
                index=self.index, mappings=MAPPING, settings={"number_of_shards": 1})
        self._ensure_group()

    def _ensure_group(self) -> None:
        if self.client is None:
            return
        try:
            self.client.xgroup_create(self.stream, self.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def record(self, entry: AuditEntry) -> str:
        """Append an entry; with a Redis client it is copied to Elasticsearch by :meth:`flush`."""
        doc = orjson.dumps(entry.document())
        if self.client is not None:
            entry_id = self.client.xadd(self.stream, {"e": doc})
            return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        entry_id = uuid.uuid4().hex
        try:
            self.es.create(index=self.index, id=entry_id, document=entry.document())
        except NotFoundError:
            self.ensure()
            self.es.create(index=self.index, id=entry_id, document=entry.document())
        return entry_id

    def flush(self, count: int = 500, block_ms: int | None = None, claim_idle_ms: int = 30_000) -> int:
        """Copy pending entries to Elasticsearch; returns how many were acknowledged."""
        assert self.client is not None
        # entries another (crashed) process read but never acknowledged, then new ones
        _next, claimed, *_ = self.client.xautoclaim(self.stream, self.GROUP, self.consumer, claim_idle_ms,
                                                    "0-0", count=count)
        entries = list(claimed)
        if len(entries) < count:
            read = self.client.xreadgroup(self.GROUP, self.consumer, {self.stream: ">"}, count=count - len(entries),
                                          block=block_ms)
            for _stream, items in read or []:
                entries.extend(items)
        entries = [(i, f) for i, f in entries if f]
        if not entries:
            return 0
        actions = [{"_op_type": "create", "_index": self.index, "_id": _s(i), "_source": orjson.loads(f[b"e"])}
                   for i, f in entries]
        ok_ids: list[str] = []
        for ok, info in helpers.streaming_bulk(self.es, actions, raise_on_error=False, raise_on_exception=True,
                                               max_retries=2):
            item = info.get("create", {})
            if ok or item.get("status") == 409:  # 409: written by an earlier try
                ok_ids.append(item.get("_id"))
        if ok_ids:
            pipe = self.client.pipeline(transaction=False)
            pipe.xack(self.stream, self.GROUP, *ok_ids)
            pipe.xdel(self.stream, *ok_ids)
            pipe.execute()
        if len(ok_ids) < len(entries):
            log.warning("audit.flush_partial", written=len(ok_ids), pending=len(entries) - len(ok_ids))
        return len(ok_ids)

    def search(self, key_id: str | None = None, role: str | None = None, action: str | None = None,
               platform: str | None = None, q: str | None = None, since: datetime | None = None,
               until: datetime | None = None, size: int = 50, after: list[Any] | None = None) -> dict[str, Any]:
        flt: list[dict[str, Any]] = []
        for name, value in (("key_id", key_id), ("role", role), ("action", action), ("platforms", platform)):
            if value:
                flt.append({"term": {name: value}})
        if since or until:
            rng: dict[str, str] = {}
            if since:
                rng["gte"] = since.isoformat()
            if until:
                rng["lt"] = until.isoformat()
            flt.append({"range": {"at": rng}})
        query: dict[str, Any] = {"bool": {"filter": flt}}
        if q:
            query["bool"]["must"] = [{"simple_query_string": {"query": q, "fields": ["query", "filters_json"],
                                                              "default_operator": "and", "lenient": True,
                                                              "flags": "AND|OR|NOT|PHRASE|WHITESPACE"}}]
        body: dict[str, Any] = {"query": query, "size": size, "sort": [{"at": "desc"}, {"request_id": "asc"}],
                                "track_total_hits": True}
        if after:
            body["search_after"] = after
        try:
            res = self.es.search(index=self.index, **body).body
        except NotFoundError:
            return {"total": 0, "entries": [], "next": None}
        hits = res["hits"]["hits"]
        return {"total": res["hits"]["total"]["value"], "entries": [h["_source"] for h in hits],
                "next": hits[-1]["sort"] if len(hits) == size else None}

    def pending(self) -> int:
        return int(self.client.xlen(self.stream)) if self.client is not None else 0


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class AuditFlusher:
    """A daemon thread per gateway process copying the audit stream to Elasticsearch."""

    def __init__(self, audit: AuditLog, interval_s: float = 0.5) -> None:
        self.audit = audit
        self.interval_s = interval_s
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="audit-flusher", daemon=True)
        self._failing = False

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.audit._ensure_group()
                while self.audit.flush() and not self.stop_event.is_set():
                    pass
                if self._failing:
                    log.info("audit.flush_recovered")
                    self._failing = False
            except Exception as exc:  # noqa: BLE001 - ES or Redis away: entries wait in the stream
                if not self._failing:
                    log.warning("audit.flush_failed", error=type(exc).__name__)
                    self._failing = True
            self.stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)
        try:
            while self.audit.flush():
                pass
        except Exception as exc:  # noqa: BLE001 - the next process flushes what is left
            log.warning("audit.final_flush_failed", error=type(exc).__name__)
