"""The regulator audit log: every search, analytics query and export, who ran it and what it
returned, appended to its own Elasticsearch index and searchable by admins.

Append-only by construction: entries are written with ``op_type=create`` under fresh ids, and
nothing in TrustScope updates or deletes them (in production, give the gateway's Elasticsearch user
``create_doc`` but not ``index``/``delete`` on ``{prefix}-audit``, and snapshot the index). A write
that fails makes the request fail (503): a regulator query that cannot be recorded is not answered.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from elasticsearch import Elasticsearch, NotFoundError

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
    def __init__(self, es: Elasticsearch, prefix: str) -> None:
        self.es = es
        self.index = f"{prefix}-audit"

    def ensure(self) -> None:
        """Create the index if missing (safe to run from several processes at once)."""
        if not self.es.indices.exists(index=self.index):
            self.es.options(ignore_status=400).indices.create(
                index=self.index, mappings=MAPPING, settings={"number_of_shards": 1})

    def record(self, entry: AuditEntry) -> str:
        entry_id = uuid.uuid4().hex
        try:
            self.es.create(index=self.index, id=entry_id, document=entry.document())
        except NotFoundError:  # the index was never created (ES was down at start-up)
            self.ensure()
            self.es.create(index=self.index, id=entry_id, document=entry.document())
        return entry_id

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
