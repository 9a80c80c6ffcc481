"""Daily sentiment rollups, maintained as documents land, so sentiment analytics read a few thousand
summary documents instead of aggregating every document.

How it stays exact:

- The indexer, *after* each bulk write, marks every (platform, local day) its documents touch as
  dirty: ``HSET {prefix}:rollup:dirty "platform|YYYY-MM-DD" <ms>`` (:meth:`SentimentRollups.mark`).
- :meth:`SentimentRollups.refresh` (run by the indexer every few seconds) reads the marks,
  refreshes the documents index (so every acknowledged write is visible), recomputes those
  platform-days from the documents with one composite aggregation, writes their rollup documents
  under stable ids (deleting combinations that no longer occur) with ``refresh``, and only then
  removes each mark whose value is unchanged (a compare-and-delete Script: a mark set again meanwhile
  stays).
- The gateway reads the marks first, takes every non-dirty platform-day from the rollups and counts
  the dirty ones (and partial days at the edges of a time range) live from the documents. A dirty
  platform-day is thus never read from a stale rollup; a mark set after the read only means the
  answer is as of the read.
- :meth:`SentimentRollups.rebuild` recomputes everything (first install, repair) and then sets the
  ``ready`` key; until it is set the gateway aggregates the documents directly.

A rollup document is one platform x local day x kind x source x verdict, with counts,
score sums and rumour counts per sentiment label. Its id is a hash of that key, so rewriting it is
idempotent. A document mentioning two platforms counts once for each, as the ``platforms`` terms
aggregation does.

The local day is in the rollup time zone, ``TS_ROLLUP_TZ`` (default Asia/Shanghai). The ``ready`` key
records the zone the rollups were built in; rollups built in another zone are not ready (the gateway
aggregates the documents, the indexer rebuilds them at start, as ``trustscope es rebuild-rollups``
does by hand), so changing the setting never mixes two kinds of day.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import redis
from elasticsearch import Elasticsearch, NotFoundError, helpers

from trustscope.es.indices import TEMPLATES_DIR, DocIndices
from trustscope.observability import get_logger
from trustscope.settings import get_settings

log = get_logger("trustscope.rollup")

DEFAULT_TZ = "Asia/Shanghai"  # the product's reporting day (TS_ROLLUP_TZ); other time zones are counted live
LABELS = ("positive", "negative", "neutral", "none")  # "none": no sentiment label
NO_VALUE = "none"  # kind/source/verdict missing
RUMOUR_MIN = 0.5  # a document "mentions a rumour" at rumour.score >= 0.5, as the live trend counts
COMPOSITE_PAGE = 2000  # x (1 + 2 per label) buckets, well under search.max_buckets
REFRESH_BATCH = 500  # platform-days recomputed per refresh call

_CLEAR = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i]); n = n + 1
  end
end
return n
"""


class RollupIndices(DocIndices):
    family: ClassVar[str] = "rollup"
    template_file: ClassVar[Any] = TEMPLATES_DIR / "rollup-template.json"


@dataclass(frozen=True)
class PlatformDay:
    platform: str
    day: date

    @property
    def field(self) -> str:
        return f"{self.platform}|{self.day.isoformat()}"

    @classmethod
    def parse(cls, raw: str) -> PlatformDay:
        platform, _, day = raw.rpartition("|")
        return cls(platform, date.fromisoformat(day))


def day_bounds(day: date, tz: str = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """Local midnight of ``day`` and of the next day, as aware datetimes."""
    zone = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    nxt = day + timedelta(days=1)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)


def local_day(ts: str | datetime, tz: str = DEFAULT_TZ) -> date:
    when = datetime.fromisoformat(ts.replace("Z", "+00:00")) if isinstance(ts, str) else ts
    return when.astimezone(ZoneInfo(tz)).date()


def day_clause(pd: PlatformDay, tz: str = DEFAULT_TZ, field: str = "created_at") -> dict[str, Any]:
    start, end = day_bounds(pd.day, tz)
    return {"bool": {"filter": [{"term": {"platforms": pd.platform}},
                                {"range": {field: {"gte": start.isoformat(), "lt": end.isoformat()}}}]}}


def doc_metrics(rumour: bool = True) -> dict[str, Any]:
    """Per-bucket sub-aggregations over documents: labels with their score sums (and rumour counts)."""
    per_label: dict[str, Any] = {"score": {"stats": {"field": "sentiment.score"}}}
    if rumour:
        per_label["rumour"] = {"filter": {"range": {"rumour.score": {"gte": RUMOUR_MIN}}}}
    return {"labels": {"terms": {"field": "sentiment.label", "size": 10, "missing": NO_VALUE}, "aggs": per_label}}


class SentimentRollups:
    """Maintains and rebuilds the rollup index; see the module docstring for the protocol."""

    def __init__(self, es: Elasticsearch, client: redis.Redis, docs: DocIndices, redis_prefix: str,
                 tz: str | None = None) -> None:
        self.tz = tz or get_settings().rollup_tz
        ZoneInfo(self.tz)  # an unknown zone fails here, at start, not in the first refresh
        self.es = es
        self.redis = client
        self.docs = docs
        self.indices = RollupIndices(docs.prefix)
        self.dirty_key = f"{redis_prefix}:rollup:dirty"
        self.ready_key = f"{redis_prefix}:rollup:ready"
        self._clear = client.register_script(_CLEAR)
        self._last_refresh = 0.0

    # --- marking (indexer, after the bulk write) -------------------------------------------
    def mark(self, docs: Iterable[dict[str, Any]]) -> int:
        now = str(time.time_ns() // 1_000_000)
        fields: dict[str, str] = {}
        for doc in docs:
            created = doc.get("created_at")
            if not created:
                continue
            day = local_day(created, self.tz)
            for platform in doc.get("platforms") or []:
                fields[PlatformDay(platform, day).field] = now
        if fields:
            self.redis.hset(self.dirty_key, mapping=fields)
        return len(fields)

    def after_batch(self, docs: Iterable[dict[str, Any]], every_s: float = 5.0) -> None:
        """The indexer's hook: mark, then refresh at most every ``every_s``. A failed refresh is
        logged and left for the next one (the marks stay, so readers count those days live)."""
        self.mark(docs)
        if time.monotonic() - self._last_refresh < every_s:
            return
        self._last_refresh = time.monotonic()
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - best effort; exactness does not depend on it
            log.warning("rollup.refresh_failed", error=type(exc).__name__)

    def dirty(self) -> dict[PlatformDay, str]:
        raw = self.redis.hgetall(self.dirty_key)
        return {PlatformDay.parse(k.decode()): v.decode() for k, v in raw.items()}

    def is_ready(self) -> bool:
        return self.ready_for(self.redis.get(self.ready_key))

    def ready_for(self, raw: bytes | str | None) -> bool:
        """Whether a ``ready`` value says the rollups were built, in this time zone. The value is
        ``"<built at>|<tz>"``; a bare timestamp (rollups built before the zone was a setting) was
        built in the default zone."""
        if raw is None:
            return False
        text = raw.decode() if isinstance(raw, bytes) else raw
        return (text.split("|", 1)[1] if "|" in text else DEFAULT_TZ) == self.tz

    # --- recomputing -------------------------------------------------------------------------
    def refresh(self, limit: int = REFRESH_BATCH) -> int:
        """Recompute up to ``limit`` dirty platform-days; returns how many marks were cleared."""
        marks = list(self.dirty().items())[:limit]
        if not marks:
            return 0
        if not self.es.indices.exists(index=self.indices.read_alias):
            self.indices.migrate(self.es)
        self.es.indices.refresh(index=self.docs.read_alias)
        wanted = {pd for pd, _ in marks}
        query = {"bool": {"should": [day_clause(pd, self.tz) for pd in wanted], "minimum_should_match": 1}}
        rows = [r for r in self._compute(query) if PlatformDay.parse(r["bucket"]) in wanted]
        self._write(rows, wanted)
        args: list[str] = []
        for pd, stamp in marks:
            args += [pd.field, stamp]
        return int(self._clear(keys=[self.dirty_key], args=args))

    def rebuild(self) -> dict[str, Any]:
        """Recompute every platform-day from the documents, drop rollups no document supports any
        more, and mark the rollups ready. Safe to run while documents keep arriving (their marks
        stay, so they are counted live until the next refresh)."""
        started = time.perf_counter()
        self.indices.migrate(self.es)
        self.es.indices.refresh(index=self.docs.read_alias)
        stamp = datetime.now(ZoneInfo("UTC")).isoformat()
        written = self._write(self._compute({"match_all": {}}), None)
        stale = [h["_id"] for h in helpers.scan(self.es, index=self.indices.read_alias, _source=False,
                                                 query={"query": {"range": {"computed_at": {"lt": stamp}}}})]
        if stale:
            helpers.bulk(self.es, ({"_op_type": "delete", "_index": self.indices.write_alias, "_id": i}
                                   for i in stale), raise_on_error=False)
        self.es.indices.refresh(index=self.indices.read_alias)
        self.redis.set(self.ready_key, f"{stamp}|{self.tz}")
        out = {"rollups": written, "deleted": len(stale), "tz": self.tz,
               "seconds": round(time.perf_counter() - started, 1)}
        log.info("rollup.rebuilt", **out)
        return out

    def ensure_built(self) -> None:
        if not self.is_ready():
            self.rebuild()

    def _compute(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Rollup rows (platform x day x kind x source x verdict) of the documents ``query`` selects."""
        sources = [
            {"platform": {"terms": {"field": "platforms"}}},
            {"day": {"date_histogram": {"field": "created_at", "calendar_interval": "1d", "time_zone": self.tz,
                                        "format": "yyyy-MM-dd"}}},
            {"kind": {"terms": {"field": "kind", "missing_bucket": True}}},
            {"source": {"terms": {"field": "source", "missing_bucket": True}}},
            {"verdict": {"terms": {"field": "integrity.verdict", "missing_bucket": True}}},
        ]
        after: dict[str, Any] | None = None
        now = datetime.now(ZoneInfo("UTC")).isoformat()
        while True:
            comp: dict[str, Any] = {"size": COMPOSITE_PAGE, "sources": sources}
            if after:
                comp["after"] = after
            resp = self.es.options(request_timeout=600).search(
                index=self.docs.read_alias, size=0, query=query,
                aggs={"rows": {"composite": comp, "aggs": doc_metrics()}}).body
            agg = resp["aggregations"]["rows"]
            for b in agg["buckets"]:
                yield self._row(b, now)
            after = agg.get("after_key")
            if not agg["buckets"] or not after:
                return

    def _row(self, b: dict[str, Any], now: str) -> dict[str, Any]:
        k = b["key"]
        day = str(k["day"])
        start, _ = day_bounds(date.fromisoformat(day), self.tz)
        row: dict[str, Any] = {
            "platform": k["platform"], "day": start.isoformat(), "kind": k["kind"] or NO_VALUE,
            "source": k["source"] or NO_VALUE, "verdict": k["verdict"] or NO_VALUE,
            "bucket": f"{k['platform']}|{day}", "documents": b["doc_count"], "computed_at": now,
            "score_sum": 0.0, "score_n": 0, "rumour": 0,
        }
        for label in LABELS:
            row[f"n_{label}"] = row[f"score_n_{label}"] = row[f"rumour_{label}"] = 0
            row[f"score_sum_{label}"] = 0.0
        for lb in b["labels"]["buckets"]:
            label = lb["key"] if lb["key"] in LABELS else NO_VALUE
            stats = lb["score"]
            row[f"n_{label}"] += lb["doc_count"]
            row[f"score_sum_{label}"] += float(stats["sum"] or 0.0)
            row[f"score_n_{label}"] += int(stats["count"])
            row[f"rumour_{label}"] += lb["rumour"]["doc_count"]
            row["score_sum"] += float(stats["sum"] or 0.0)
            row["score_n"] += int(stats["count"])
            row["rumour"] += lb["rumour"]["doc_count"]
        return row

    @staticmethod
    def row_id(row: dict[str, Any]) -> str:
        key = "|".join((row["bucket"], row["kind"], row["source"], row["verdict"]))
        return hashlib.sha1(key.encode()).hexdigest()

    def _write(self, rows: Iterable[dict[str, Any]], buckets: set[PlatformDay] | None) -> int:
        """Index ``rows``; with ``buckets``, delete the rollups of those platform-days not rewritten."""
        keep: set[str] = set()

        def actions() -> Iterator[dict[str, Any]]:
            for row in rows:
                rid = self.row_id(row)
                keep.add(rid)
                yield {"_op_type": "index", "_index": self.indices.write_alias, "_id": rid, "_source": row}

        ok, errors = helpers.bulk(self.es, actions(), chunk_size=2000, raise_on_error=False)
        if errors:
            raise RuntimeError(f"{len(errors)} rollup writes failed: {errors[:2]}")
        if buckets:
            try:
                old = self.es.search(index=self.indices.read_alias, size=10_000, _source=False,
                                     query={"terms": {"bucket": [pd.field for pd in buckets]}}).body
            except NotFoundError:
                old = {"hits": {"hits": []}}
            gone = [h["_id"] for h in old["hits"]["hits"] if h["_id"] not in keep]
            if gone:
                helpers.bulk(self.es, ({"_op_type": "delete", "_index": self.indices.write_alias, "_id": i}
                                       for i in gone), raise_on_error=False)
        self.es.indices.refresh(index=self.indices.read_alias)
        return ok
