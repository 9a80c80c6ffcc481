"""Sentiment analytics (per platform over time, negative share) answered from the daily rollups
(``trustscope.es.rollup``) plus a live count of what the rollups do not hold yet, or, where the
rollups cannot answer, from the documents directly.

The rollups answer when the request has no text query and no rumour-score range, its time zone is
the rollup time zone (``TS_ROLLUP_TZ``) and its interval is a day or longer. Then:

- full local days inside the time range that are not marked dirty come from the rollups;
- partial days at the edges of the range (``since``/``until`` not at local midnight) are counted
  live over the documents, with the exact range;
- dirty platform-days (documents indexed since their rollup was last recomputed) are counted live
  over the documents of that platform and day.

Every count is exact either way; ``basis`` in each response says which path answered and how many
days were counted live. All three parts are bucketed by Elasticsearch's ``date_histogram`` with the
same interval and time zone, so their bucket keys line up and are simply added.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import redis
from elasticsearch import ApiError, Elasticsearch, TransportError

from services.gateway.queries import TEXT_FIELDS, SearchFilters, build_query, required_phrases
from trustscope.es.rollup import DEFAULT_TZ, RUMOUR_MIN, PlatformDay, SentimentRollups, day_bounds, local_day
from trustscope.settings import get_settings

SHOWN_LABELS = ("positive", "negative", "neutral")
MAX_PLATFORMS = 10_000
MAX_LIVE_DAYS = 2_000  # more dirty platform-days than this (a backlog): aggregate the documents
SAMPLE_DOCUMENTS = 50_000  # documents read by a sampled aggregation over very many matches
SAMPLE_SEED = 20261201
# less JSON to move and parse: bucket keys are formatted here (bucket_start), and of the score
# statistics only the sum and count are used (a year of days x 8 platforms: 850 -> 600 KB)
FILTER_PATH = "-**.key_as_string,-**.min,-**.max,-**.avg"
WHOLE = 0  # the bucket key when there is no time axis (negative share)


@dataclass(slots=True)
class Counts:
    """One bucket's numbers; added across rollups and live parts. Plain dicts (a response can hold
    thousands of buckets: no factory objects per bucket)."""

    documents: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    score_sum: float = 0.0
    score_n: int = 0
    rumour: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.documents += other.documents
        self.score_sum += other.score_sum
        self.score_n += other.score_n
        self.rumour += other.rumour
        for k, v in other.labels.items():
            self.labels[k] = self.labels.get(k, 0) + v
        for k, v in other.verdicts.items():
            self.verdicts[k] = self.verdicts.get(k, 0) + v

    def bucket(self, start: str, detail: bool) -> dict[str, Any]:
        labels = self.labels
        out: dict[str, Any] = {"start": start, "documents": self.documents, "positive": labels.get("positive", 0),
                               "negative": labels.get("negative", 0), "neutral": labels.get("neutral", 0),
                               "avg_score": round(self.score_sum / self.score_n, 4) if self.score_n else None}
        if detail:
            out["verdicts"] = {k: v for k, v in sorted(self.verdicts.items(), key=lambda kv: (-kv[1], kv[0])) if v}
            out["rumour_mentions"] = self.rumour
        return out


Series = dict[str, dict[int, Counts]]  # platform -> bucket key (epoch ms; WHOLE without a time axis) -> counts


@dataclass
class SentimentQuery:
    filters: SearchFilters
    interval: str | None  # None: one bucket per platform (negative share)
    tz: str | None = None  # None: the rollup time zone
    detail: bool = False  # verdicts and rumour mentions per bucket (one platform's trend)
    only_platforms: list[str] | None = None  # rank/return only these (the filter's platforms)
    exact: bool = False  # aggregate every matching document even when there are very many


@dataclass
class Answer:
    series: Series
    basis: dict[str, Any]


def answer(es: Elasticsearch, docs_index: str, rollups: SentimentRollups | None, q: SentimentQuery) -> Answer:
    """The exact per-platform series for ``q``, from rollups where they can answer."""
    include = q.only_platforms or (q.filters.platforms or None)
    rollup_tz = rollups.tz if rollups is not None else get_settings().rollup_tz
    if q.tz is None:
        q = replace(q, tz=rollup_tz)
    if rollups is None or not _rollups_can_answer(q, rollup_tz):
        return _documents(es, docs_index, q, include)
    try:
        with rollups.redis.pipeline(transaction=False) as pipe:
            pipe.get(rollups.ready_key)
            pipe.hgetall(rollups.dirty_key)
            raw_ready, raw_dirty = pipe.execute()
    except redis.RedisError:  # without the marks the rollups cannot be trusted; the documents can
        ready, raw_dirty = False, {}
        note = "rollup state unavailable"
    else:
        ready = rollups.ready_for(raw_ready)
        note = ("rollups are being built" if raw_ready is None else
                f"rollups were built in another time zone than {rollup_tz}; run trustscope es rebuild-rollups")
    plan = _Plan.make(q.filters, rollup_tz)
    dirty = [pd for pd in map(PlatformDay.parse, (k.decode() for k in raw_dirty))
             if plan.is_full_day(pd.day) and (include is None or pd.platform in include)]
    if not ready or len(dirty) > MAX_LIVE_DAYS:
        if ready:
            note = f"{len(dirty)} platform-days await their rollup"
        return _documents(es, docs_index, q, include, note)

    requests = [r for r in (_rollup_request(rollups.indices.read_alias, q, plan, dirty, include),
                            _live_request(docs_index, q, plan, dirty, include)) if r is not None]
    series: Series = defaultdict(dict)
    for (_, _, parse), resp in zip(requests, _run(es, requests), strict=True):
        _merge(series, parse(resp))
    return Answer(series, {"method": "rollups", "exact": True, "rollup_tz": rollup_tz,
                           "live_edge_days": len(plan.edges), "live_platform_days": len(dirty)})


Request = tuple[str, dict[str, Any], Callable[[dict[str, Any]], Series]]  # index, body, parser


def _run(es: Elasticsearch, requests: list[Request]) -> list[dict[str, Any]]:
    """One round trip: the rollup and live requests run side by side in an ``_msearch``. A part that
    failed is sent again alone, so its error surfaces as the client's usual exception."""
    if len(requests) == 1:
        index, body, _ = requests[0]
        return [es.search(index=index, filter_path=FILTER_PATH, **body).body]
    searches: list[dict[str, Any]] = []
    for index, body, _ in requests:
        searches += [{"index": index}, body]
    responses = es.msearch(searches=searches, filter_path=FILTER_PATH).body["responses"]
    return [es.search(index=index, **body).body if "error" in resp else resp
            for (index, body, _), resp in zip(requests, responses, strict=True)]


def _rollups_can_answer(q: SentimentQuery, rollup_tz: str = DEFAULT_TZ) -> bool:
    f = q.filters
    return (not (f.q and f.q.strip()) and f.rumour_min is None and f.rumour_max is None
            and q.tz in (None, rollup_tz)
            and q.interval in (None, "day", "week", "month") and not (q.detail and f.sentiment))


@dataclass
class _Plan:
    """Which local days of the range are whole (rollups) and which are partial (live)."""

    first_full: date | None  # None: from the beginning
    last_full: date | None  # None: to the end
    edges: list[date]
    tz: str

    @classmethod
    def make(cls, f: SearchFilters, tz: str = DEFAULT_TZ) -> _Plan:
        edges: list[date] = []
        first = last = None
        if f.since is not None:
            d = local_day(f.since, tz)
            first = d if day_bounds(d, tz)[0] == f.since else d + timedelta(days=1)
            if first != d:
                edges.append(d)
        if f.until is not None:
            d = local_day(f.until, tz)
            last = d - timedelta(days=1)
            if day_bounds(d, tz)[0] != f.until and d not in edges:
                edges.append(d)
        return cls(first, last, edges, tz)

    def is_full_day(self, d: date) -> bool:
        return (self.first_full is None or d >= self.first_full) and (self.last_full is None or d <= self.last_full)

    @property
    def empty(self) -> bool:
        return self.first_full is not None and self.last_full is not None and self.first_full > self.last_full


def _rollup_request(index: str, q: SentimentQuery, plan: _Plan, dirty: list[PlatformDay],
                    include: list[str] | None) -> Request | None:
    """Whole, clean platform-days from the rollups, bucketed by the requested interval."""
    if plan.empty:
        return None
    f = q.filters
    flt: list[dict[str, Any]] = []
    if f.platforms:
        flt.append({"terms": {"platform": f.platforms}})
    for name, value in (("kind", f.kind), ("source", f.source), ("verdict", f.verdict)):
        if value:
            flt.append({"term": {name: value}})
    days: dict[str, str] = {}
    if plan.first_full is not None:
        days["gte"] = day_bounds(plan.first_full, plan.tz)[0].isoformat()
    if plan.last_full is not None:
        days["lt"] = day_bounds(plan.last_full, plan.tz)[1].isoformat()
    if days:
        flt.append({"range": {"day": days}})
    by_platform: dict[str, list[str]] = defaultdict(list)
    for pd in dirty:
        by_platform[pd.platform].append(pd.field)
    must_not = [{"terms": {"bucket": fields}} for fields in by_platform.values()]
    label = f.sentiment
    names = ({"n": f"n_{label}", "s": f"score_sum_{label}", "c": f"score_n_{label}"}
             if label else {"n": "documents", "s": "score_sum", "c": "score_n",
                            **{f"l_{x}": f"n_{x}" for x in SHOWN_LABELS}})
    if q.detail:
        names["r"] = f"rumour_{label}" if label else "rumour"
    metrics: dict[str, Any] = {k: {"sum": {"field": v}} for k, v in names.items()}
    if q.detail:
        metrics["verdicts"] = {"terms": {"field": "verdict", "size": 20}, "aggs": {"n": {"sum": {"field": names["n"]}}}}
    level: dict[str, Any] = metrics
    if q.interval:
        level = {"t": {"date_histogram": {"field": "day", "calendar_interval": q.interval, "time_zone": q.tz,
                                          "min_doc_count": 1}, "aggs": metrics}}
    terms: dict[str, Any] = {"field": "platform", "size": MAX_PLATFORMS}
    if include:
        terms["include"] = include
    body = {"size": 0, "query": {"bool": {"filter": flt, "must_not": must_not}},
            "aggs": {"p": {"terms": terms, "aggs": level}}}

    def counts(b: dict[str, Any]) -> Counts:
        c = Counts(documents=int(b["n"]["value"]), score_sum=float(b["s"]["value"]), score_n=int(b["c"]["value"]),
                   rumour=int(b["r"]["value"]) if "r" in b else 0)
        if label:
            c.labels[label] = c.documents
        else:
            for x in SHOWN_LABELS:
                c.labels[x] = int(b[f"l_{x}"]["value"])
        if q.detail:
            for v in b["verdicts"]["buckets"]:
                if v["key"] != "none" and v["n"]["value"]:
                    c.verdicts[v["key"]] = int(v["n"]["value"])
        return c

    def parse(resp: dict[str, Any]) -> Series:
        out: Series = {}
        for p in resp["aggregations"]["p"]["buckets"]:
            if q.interval:
                if buckets := {int(b["key"]): counts(b) for b in p["t"]["buckets"] if b["n"]["value"]}:
                    out[p["key"]] = buckets
            elif p["n"]["value"]:
                out[p["key"]] = {WHOLE: counts(p)}
        return out

    return index, body, parse


def _doc_metrics(q: SentimentQuery) -> dict[str, Any]:
    """One bucket's :class:`Counts` over documents, flat: the label counts are a ``filters``
    aggregation and the score statistics one ``stats`` beside it, not a ``terms`` per label with
    stats inside. Why: a bucket aggregation nested under many parent buckets (platform x day) is
    built by walking all of its buckets once per parent bucket, so a ``terms`` under the date
    histogram cost ~0.6 s to *build* over 8 platforms x 365 days (profiled at 1M documents), far more
    than collecting the documents; ``filters`` keeps dense per-parent arrays and builds in
    linear time. Same numbers: the shown labels' counts, and the sum and count of scores. Short
    names and anonymous filters (buckets in ``SHOWN_LABELS`` order): a year of days x 8 platforms is
    2,920 buckets, and every byte of them is rendered, sent and parsed."""
    metrics: dict[str, Any] = {
        "s": {"stats": {"field": "sentiment.score"}},
        "l": {"filters": {"filters": [{"term": {"sentiment.label": x}} for x in SHOWN_LABELS]}}}
    if q.detail:  # only one platform's trend shows rumour mentions and verdicts
        metrics["r"] = {"filter": {"range": {"rumour.score": {"gte": RUMOUR_MIN}}}}
        metrics["v"] = {"terms": {"field": "integrity.verdict", "size": 20}}
    return metrics


def _doc_level(q: SentimentQuery) -> dict[str, Any]:
    """Sub-aggregations over documents that yield one bucket's :class:`Counts` (or a histogram of them)."""
    metrics = _doc_metrics(q)
    if not q.interval:
        return metrics
    return {"t": {"date_histogram": {"field": "created_at", "calendar_interval": q.interval, "time_zone": q.tz,
                                     "min_doc_count": 1}, "aggs": metrics}}


def _platform_terms(q: SentimentQuery, include: list[str] | None) -> dict[str, Any]:
    terms: dict[str, Any] = {"field": "platforms", "size": MAX_PLATFORMS}
    if include:
        terms["include"] = include
    return {"terms": terms, "aggs": _doc_level(q)}


class PhraseCounts:
    """Documents per field containing a two-character phrase, cached for ``ttl_s`` per process.

    Why: before aggregating the documents of a text query, the gateway must know whether more than
    ``2 * SAMPLE_DOCUMENTS`` match (to sample), and counting them evaluates the query once more:
    ~20 % of the call (measured at 1M documents). A match contains every character pair of each
    Chinese run the query requires (a sub-phrase of a phrase), so the rarest pair's documents,
    summed over the searched fields, bound the matches from above; these pair counts are single
    postings lookups on the ``index_phrases`` field and change slowly, so they are cached. A stale
    count can only make the gateway aggregate exactly where it could have sampled, never wrongly."""

    def __init__(self, ttl_s: float = 300.0, max_entries: int = 20_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], tuple[float, int]] = {}

    def bound(self, es: Elasticsearch, index: str, phrases: list[str]) -> int:
        """An upper bound on the documents containing all ``phrases`` in any of ``TEXT_FIELDS``."""
        grams = {p: [p[i:i + 2] for i in range(len(p) - 1)] or [p] for p in phrases}
        counts = self._counts(es, index, {g for gs in grams.values() for g in gs})
        return min(sum(min(counts[(f, g)] for g in gs) for f in TEXT_FIELDS) for gs in grams.values())

    def _counts(self, es: Elasticsearch, index: str, grams: set[str]) -> dict[tuple[str, str], int]:
        now = time.monotonic()
        out: dict[tuple[str, str], int] = {}
        missing: list[tuple[str, str]] = []
        with self._lock:
            for f in TEXT_FIELDS:
                for g in grams:
                    hit = self._cache.get((index, f, g))
                    if hit is not None and hit[0] > now:
                        out[(f, g)] = hit[1]
                    else:
                        missing.append((f, g))
        if missing:
            searches: list[dict[str, Any]] = []
            for f, g in missing:
                searches += [{"index": index}, {"size": 0, "track_total_hits": True,
                                                "query": {"match_phrase": {f: g}}}]
            responses = es.msearch(searches=searches, filter_path="responses.hits.total.value,responses.error")
            with self._lock:
                if len(self._cache) > self.max_entries:
                    self._cache.clear()
                for key, resp in zip(missing, responses.body["responses"], strict=True):
                    if "error" in resp:
                        raise RuntimeError(f"phrase count failed: {resp['error']}")
                    out[key] = int(resp["hits"]["total"]["value"])
                    self._cache[(index, *key)] = (now + self.ttl_s, out[key])
        return out


PHRASE_COUNTS = PhraseCounts()


def _surely_few(es: Elasticsearch, index: str, f: SearchFilters) -> bool:
    """Whether the text query alone matches at most ``2 * SAMPLE_DOCUMENTS`` documents for sure
    (then no count is needed before aggregating them all)."""
    phrases = required_phrases(f.q) if f.q and f.q.strip() else None
    if phrases is None:
        return False
    try:
        return PHRASE_COUNTS.bound(es, index, phrases) <= 2 * SAMPLE_DOCUMENTS
    except (ApiError, TransportError, RuntimeError):  # no bound: count the matches, as without one
        return False


def _documents(es: Elasticsearch, index: str, q: SentimentQuery, include: list[str] | None,
               note: str | None = None) -> Answer:
    """Aggregate the matching documents themselves. Work grows with the number of matches, so above
    ``2 * SAMPLE_DOCUMENTS`` matches (unless ``exact``) a ``random_sampler`` reads about
    ``SAMPLE_DOCUMENTS`` of them at random (fixed seed) and Elasticsearch scales the counts and sums
    back: estimates, and ``basis`` says so, with the probability and the exact number of matches.
    The matches are counted first unless the text query's phrases bound them below the threshold
    (:class:`PhraseCounts`)."""
    query = build_query(q.filters)
    aggs: dict[str, Any] = {"p": _platform_terms(q, include)}
    basis: dict[str, Any] = {"method": "documents", "exact": True}
    if not q.exact and not _surely_few(es, index, q.filters):
        matching = int(es.count(index=index, query=query)["count"])
        if matching > 2 * SAMPLE_DOCUMENTS:
            probability = round(SAMPLE_DOCUMENTS / matching, 6)
            aggs = {"sampled": {"random_sampler": {"probability": probability, "seed": SAMPLE_SEED}, "aggs": aggs}}
            basis = {"method": "documents_sampled", "exact": False, "probability": probability,
                     "matching_documents": matching,
                     "note": "counts are estimates scaled from a random sample; exact=true counts every document"}
    if note:
        basis["note"] = note
    found = es.search(index=index, size=0, query=query, aggs=aggs, filter_path=FILTER_PATH).body["aggregations"]
    return Answer(_parse_platforms(found.get("sampled", found)["p"], q), basis)


def _live_request(index: str, q: SentimentQuery, plan: _Plan, dirty: list[PlatformDay],
                  include: list[str] | None) -> Request | None:
    """Edge days (every platform, the exact range) and dirty platform-days, counted over documents."""
    if not plan.edges and not dirty:
        return None
    aggs: dict[str, Any] = {}
    if plan.edges:
        ranges = [{"range": {"created_at": {"gte": day_bounds(d, plan.tz)[0].isoformat(),
                                            "lt": day_bounds(d, plan.tz)[1].isoformat()}}} for d in plan.edges]
        aggs["edges"] = {"filter": {"bool": {"should": ranges, "minimum_should_match": 1}},
                         "aggs": {"p": _platform_terms(q, include)}}
    if dirty:
        days: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for pd in dirty:
            start, end = day_bounds(pd.day, plan.tz)
            days[pd.platform].append({"range": {"created_at": {"gte": start.isoformat(), "lt": end.isoformat()}}})
        per = {p: {"bool": {"filter": [{"term": {"platforms": p}}],
                            "should": r, "minimum_should_match": 1}} for p, r in days.items()}
        aggs["dirty"] = {"filters": {"filters": per}, "aggs": _doc_level(q)}
    def parse(resp: dict[str, Any]) -> Series:
        found = resp["aggregations"]
        out: Series = defaultdict(dict)
        if "edges" in found:
            _merge(out, _parse_platforms(found["edges"]["p"], q))
        if "dirty" in found:
            for platform, b in found["dirty"]["buckets"].items():
                _merge(out, {platform: _parse_level(b, q)})
        return out

    return index, {"size": 0, "query": build_query(q.filters), "aggs": aggs}, parse


def _parse_platforms(agg: dict[str, Any], q: SentimentQuery) -> Series:
    return {p["key"]: _parse_level(p, q) for p in agg["buckets"]}


def _parse_level(b: dict[str, Any], q: SentimentQuery) -> dict[int, Counts]:
    if not q.interval:
        return {WHOLE: _doc_counts(b, q)} if b["doc_count"] else {}
    return {int(t["key"]): _doc_counts(t, q) for t in b["t"]["buckets"] if t["doc_count"]}


def _doc_counts(b: dict[str, Any], q: SentimentQuery) -> Counts:
    labels = {label: n for label, lb in zip(SHOWN_LABELS, b["l"]["buckets"], strict=True) if (n := lb["doc_count"])}
    verdicts = {v["key"]: v["doc_count"] for v in b["v"]["buckets"]} if q.detail else {}
    return Counts(int(b["doc_count"]), labels, float(b["s"]["sum"] or 0.0), int(b["s"]["count"]),
                  int(b["r"]["doc_count"]) if "r" in b else 0, verdicts)


def _merge(into: Series, part: Series) -> None:
    for platform, buckets in part.items():
        mine = into.setdefault(platform, {})
        for key, counts in buckets.items():
            if key in mine:
                mine[key].add(counts)
            else:
                mine[key] = counts


# --- shaping ------------------------------------------------------------------------------------
def bucket_start(key: int, tz: str) -> str:
    """``key_as_string`` as Elasticsearch writes it for a date_histogram in ``tz``."""
    text = datetime.fromtimestamp(key / 1000, ZoneInfo(tz)).isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _next_day(d: date, interval: str) -> date:
    if interval == "day":
        return d + timedelta(days=1)
    if interval == "week":
        return d + timedelta(days=7)
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def timeline(buckets: dict[int, Counts], interval: str, tz: str, detail: bool) -> list[dict[str, Any]]:
    """Buckets from the first to the last with documents, empty ones included (as ``min_doc_count: 0``).
    Walks local dates (not epoch arithmetic), so daylight-saving days are 23 or 25 hours long."""
    if not buckets:
        return []
    out: list[dict[str, Any]] = []
    key, last = min(buckets), max(buckets)
    if interval == "hour":
        while key <= last:
            out.append(buckets.get(key, Counts()).bucket(bucket_start(key, tz), detail))
            key += 3_600_000
        return out
    d = datetime.fromtimestamp(key / 1000, ZoneInfo(tz)).date()
    empty = Counts()
    while True:
        key, text, d = _step(d, interval, tz)
        if key > last:
            return out
        out.append(buckets.get(key, empty).bucket(text, detail))


@lru_cache(maxsize=8192)
def _step(d: date, interval: str, tz: str) -> tuple[int, str, date]:
    """The bucket key and start text of local date ``d``, and the next bucket's date. Cached: every
    platform of a response walks the same days (a year of days x 8 platforms: 2,920 steps)."""
    local = datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz))
    text = local.isoformat(timespec="milliseconds")
    return (int(local.timestamp() * 1000), text[:-6] + "Z" if text.endswith("+00:00") else text,
            _next_day(d, interval))


def totals(series: Series) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for platform, buckets in series.items():
        c = Counts()
        for counts in buckets.values():
            c.add(counts)
        out[platform] = c
    return out
