"""Elasticsearch queries behind the gateway's read endpoints, kept apart from HTTP concerns.

- Text search is ``simple_query_string`` (never ``query_string``: a user's query cannot reach
  fields, scripts, regexes or wildcards over the whole index). A run of Chinese characters is
  searched as a phrase (Chinese has no spaces; users expect 提现困难 not to match 困难…提现), users
  may still write ``"..."``, ``|``, ``-`` and ``( )``.
- Pages are ``search_after`` inside a point in time, and the cursor is an HMAC-signed token that
  also binds the query it belongs to: a tampered, foreign or truncated cursor is a 400, never a 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from trustscope.es.derived import PHRASE_FIELD
from trustscope.text import normalize_text, to_simplified

TEXT_FIELDS = ["text_simplified", "title"]
SQS_FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE|ESCAPE"
SORTS: dict[str, list[dict[str, Any]]] = {
    "newest": [{"created_at": "desc"}],
    "oldest": [{"created_at": "asc"}],
    "relevance": [{"_score": "desc"}, {"created_at": "desc"}],
    "rumour": [{"rumour.score": {"order": "desc", "missing": "_last"}}, {"created_at": "desc"}],
    "negative": [{"sentiment.score": {"order": "asc", "missing": "_last"}}, {"created_at": "desc"}],
    "positive": [{"sentiment.score": {"order": "desc", "missing": "_last"}}, {"created_at": "desc"}],
}
PIT_KEEP_ALIVE = "5m"
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


class CursorError(ValueError):
    """A cursor that this gateway did not issue for this query."""


@dataclass(frozen=True)
class SearchFilters:
    """Everything a regulator can filter on; the same object drives search, aggregations and export,
    and is what the audit log records."""

    q: str | None = None
    platforms: list[str] = field(default_factory=list)
    kind: str | None = None
    source: str | None = None
    sentiment: str | None = None
    verdict: str | None = None
    rumour_min: float | None = None
    rumour_max: float | None = None
    since: datetime | None = None
    until: datetime | None = None

    def audit(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, [], "") and k != "q"}
        for k in ("since", "until"):
            if k in out:
                out[k] = out[k].isoformat()
        return out

    def fingerprint(self, sort: str) -> str:
        raw = orjson.dumps({**self.audit(), "q": self.q, "sort": sort}, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(raw).hexdigest()[:16]


def filters(platform: str | None = None, kind: str | None = None, verdict: str | None = None,
            since: datetime | None = None, until: datetime | None = None,
            sentiment: str | None = None) -> list[dict[str, Any]]:
    """The filter clauses of the simple endpoints (alerts, per-platform trends)."""
    return filter_clauses(SearchFilters(platforms=[platform] if platform else [], kind=kind, verdict=verdict,
                                        since=since, until=until, sentiment=sentiment))


def filter_clauses(f: SearchFilters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if f.platforms:
        out.append({"terms": {"platforms": f.platforms}})
    for fieldname, value in (("kind", f.kind), ("source", f.source), ("sentiment.label", f.sentiment),
                             ("integrity.verdict", f.verdict)):
        if value:
            out.append({"term": {fieldname: value}})
    if f.rumour_min is not None or f.rumour_max is not None:
        rng: dict[str, float] = {}
        if f.rumour_min is not None:
            rng["gte"] = f.rumour_min
        if f.rumour_max is not None:
            rng["lte"] = f.rumour_max
        out.append({"range": {"rumour.score": rng}})
    if f.since or f.until:
        times: dict[str, str] = {}
        if f.since:
            times["gte"] = f.since.isoformat()
        if f.until:
            times["lt"] = f.until.isoformat()
        out.append({"range": {"created_at": times}})
    return out


def prepare_text(q: str) -> str:
    """Normalise and simplify the query, and quote each bare run of Chinese characters so it is
    matched as a phrase. Text already inside quotes is left alone; operators keep working."""
    q = to_simplified(normalize_text(q))
    if q.count('"') % 2:  # an unbalanced quote: drop the last one rather than send it
        cut = q.rfind('"')
        q = q[:cut] + " " + q[cut + 1:]
    out: list[str] = []
    for i, part in enumerate(q.split('"')):
        if i % 2:  # inside quotes
            out.append(f'"{part}"')
        else:
            out.append(_CJK_RUN.sub(lambda m: f'"{m.group(0)}"', part))
    return "".join(out).strip()


_OPERATORS = re.compile(r"[|+\-()\\]")
_ALL_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def required_phrases(q: str) -> list[str] | None:
    """The runs of Chinese characters a text query requires every match to contain as phrases, when
    the query is a plain conjunction (default operator AND, no ``|``, ``-``, ``+``, ``( )`` or
    escapes outside quotes); None otherwise, or when it requires no such phrase. A match contains
    each of these, so the documents containing any one bound the number of matches from above."""
    parts = prepare_text(q).split('"')
    if _OPERATORS.search("".join(parts[0::2])):
        return None
    return [p for p in parts[1::2] if _ALL_CJK.fullmatch(p)] or None


def text_query(q: str) -> dict[str, Any]:
    return {"simple_query_string": {"query": prepare_text(q), "fields": TEXT_FIELDS, "default_operator": "and",
                                    "flags": SQS_FLAGS, "lenient": True}}


def build_query(f: SearchFilters) -> dict[str, Any]:
    query: dict[str, Any] = {"bool": {"filter": filter_clauses(f)}}
    if f.q and f.q.strip():
        query["bool"]["must"] = [text_query(f.q)]
    return query


_QUOTED = re.compile(r'"([^"]*)"')


def highlight_spec(q: str) -> dict[str, Any]:
    """Highlighting for a text query. With ``index_phrases`` an exact phrase is answered from the
    hidden shingle field, which the highlighter cannot map back to the text; the same phrases with a
    slop of 1 skip the shingles, so they are highlighted on the text itself. Text is HTML-escaped
    (``encoder: html``), so only our ``<mark>`` tags are markup."""
    sloppy = _QUOTED.sub(lambda m: f'"{m.group(1)}"~1', prepare_text(q))
    hq = {"simple_query_string": {"query": sloppy, "fields": TEXT_FIELDS, "default_operator": "and",
                                  "flags": SQS_FLAGS + "|SLOP", "lenient": True}}
    return {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html", "highlight_query": hq,
            "fields": {"text_simplified": {"fragment_size": 120, "number_of_fragments": 3},
                       "title": {"number_of_fragments": 0}}}


# --- cursors -----------------------------------------------------------------------------------
def encode_cursor(sort_values: list[Any]) -> str:
    """An unsigned cursor for lists that are not secret or query-bound (the audit log's pages)."""
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort values of :func:`encode_cursor`; ValueError for anything else."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise ValueError("malformed cursor") from exc
    if not isinstance(values, list) or len(values) != 2 or not all(isinstance(v, (int, str)) for v in values):
        raise ValueError("malformed cursor")
    return values


class CursorCodec:
    """Signed, opaque cursors: ``base64(json) . base64(hmac)``; the JSON holds the PIT id, the last
    sort values and the query's fingerprint."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _sig(self, raw: bytes) -> bytes:
        return hmac.new(self.secret, raw, hashlib.sha256).digest()[:16]

    def encode(self, state: dict[str, Any]) -> str:
        raw = orjson.dumps(state)
        b = base64.urlsafe_b64encode
        return f"{b(raw).decode().rstrip('=')}.{b(self._sig(raw)).decode().rstrip('=')}"

    def decode(self, cursor: str, fingerprint: str) -> dict[str, Any]:
        try:
            body, sig = cursor.split(".")
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            given = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        except (ValueError, TypeError) as exc:
            raise CursorError("malformed cursor") from exc
        if not hmac.compare_digest(given, self._sig(raw)):
            raise CursorError("this cursor was not issued by this gateway")
        state = orjson.loads(raw)
        if not isinstance(state, dict) or not isinstance(state.get("after"), list):
            raise CursorError("malformed cursor")
        if state.get("fp") != fingerprint:
            raise CursorError("this cursor belongs to a different query; repeat the query without it")
        return state


def search_body(f: SearchFilters, size: int, sort: str, pit_id: str | None, after: list[Any] | None,
                highlight: bool = True, total: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"query": build_query(f), "size": size, "sort": SORTS[sort],
                            "track_total_hits": total}
    if pit_id:
        body["pit"] = {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}
    if after:
        body["search_after"] = after
    if highlight and f.q:
        body["highlight"] = highlight_spec(f.q)
    return body


def shape_hit(hit: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = hit["_source"]
    if "highlight" in hit:
        doc = {**doc, "highlight": hit["highlight"]}
    return doc


# --- significant terms -------------------------------------------------------------------------
SIGNIFICANT_SAMPLE = 2000  # foreground documents sampled (uniformly at random) per shard
SIGNIFICANT_SEED = 20261201  # fixed: the same data gives the same sample, and so the same answer


def significant_terms(f: SearchFilters, size: int, sample: int = SIGNIFICANT_SAMPLE) -> dict[str, Any]:
    """One request: a uniform random sample of the matching documents (``random_score`` ranks the
    foreground, ``sampler`` keeps the top ``sample`` per shard), and ``significant_terms`` (JLH, as
    Elasticsearch scores by default) over the ``phrases`` keyword field derived at indexing time.

    Foreground frequencies come from the sample, background frequencies from the index's term
    statistics (every document). ``execution_hint: map`` reads only the sampled documents' values,
    so no global ordinals are built for this high-cardinality field. Why a random sample rather than
    the sampler's usual best matches: with filters alone every document scores the same, and the
    "best" would be the oldest segments' documents."""
    ranked = {"function_score": {"query": build_query(f), "boost_mode": "replace",
                                 "random_score": {"seed": SIGNIFICANT_SEED, "field": "_seq_no"}}}
    return {"size": 0, "track_total_hits": True, "query": ranked, "aggs": {"sample": {
        "sampler": {"shard_size": sample},
        "aggs": {"terms": {"significant_terms": {
            "field": PHRASE_FIELD, "size": 3 * size, "min_doc_count": 2, "shard_min_doc_count": 2,
            "execution_hint": "map"}}}}}}


def shape_significant(result: dict[str, Any], size: int) -> dict[str, Any]:
    """Terms with their sample counts scaled to the foreground (``documents`` is an estimate when
    ``sampled`` < the foreground), exact background counts; a bigram that only appears inside a
    kept trigram is dropped (it says nothing new)."""
    total = int(result["hits"]["total"]["value"])
    agg = result["aggregations"]["sample"]
    sampled = int(agg["doc_count"])
    terms: list[dict[str, Any]] = []
    for b in agg["terms"]["buckets"]:
        in_sample = int(b["doc_count"])
        estimate = in_sample if sampled >= total or not sampled else round(in_sample * total / sampled)
        terms.append({"term": b["key"], "score": round(float(b["score"]), 4), "documents": estimate,
                      "in_sample": in_sample, "background": int(b["bg_count"])})
    kept: list[dict[str, Any]] = []
    for t in terms:
        if any(t["term"] in k["term"] and t["in_sample"] <= k["in_sample"] for k in kept):
            continue
        kept.append(t)
    return {"documents": total, "sampled": sampled, "exact": sampled >= total, "terms": kept[:size]}
