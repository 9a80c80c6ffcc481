"""Recompute score state from Elasticsearch (``trustscope scores rebuild``).

One scan of a platform's reviews gives the same contributions the indexer applied; summing them
(and the per-author shares of the robust formula) must equal the live state (``compare``, both the
platform hash and the per-author hash). ``history`` rebuilds the daily snapshots from the
reviews' creation dates, with today's verdicts (a verdict revised later is applied back in time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch, helpers

from trustscope.scores.contribution import Contribution, SharedSums, contribution_of
from trustscope.scores.store import ScoreStore, history_point

SOURCE = ["id", "kind", "platforms", "rating", "created_at", "author_id", "author_created_at",
          "author_review_count", "integrity.verdict", "integrity.reasons", "integrity.revision"]
TOLERANCE = 1e-6  # relative; float sums in another order differ in the last bits only


@dataclass
class Rebuilt:
    platform: str
    state: dict[str, float]
    docs: list[Contribution]
    history: dict[str, dict[str, Any]] = field(default_factory=dict)
    authors: SharedSums = field(default_factory=SharedSums)


def scan_reviews(es: Elasticsearch, index: str, platform: str | None = None) -> Iterator[dict[str, Any]]:
    flt: list[dict[str, Any]] = [{"term": {"kind": "review"}}]
    if platform:
        flt.append({"term": {"platforms": platform}})
    for hit in helpers.scan(es, index=index, query={"query": {"bool": {"filter": flt}}}, _source=SOURCE,
                            size=2000):
        yield hit["_source"]


def recompute(es: Elasticsearch, index: str, platform: str) -> Rebuilt:
    """The state of ``platform`` as the indexer would have built it from the indexed reviews
    (additive sums, per-author sums and the derived shares, kept as the store's script keeps them)."""
    by_day: dict[str, list[Contribution]] = {}
    for src in scan_reviews(es, index, platform):
        c = contribution_of(src)
        if c is None or platform not in c.platforms:
            continue
        by_day.setdefault(str(src.get("created_at", ""))[:10], []).append(c)
    docs: list[Contribution] = []
    additive: dict[str, float] = {}
    authors = SharedSums()
    history: dict[str, dict[str, Any]] = {}
    for day in sorted(by_day):
        for c in by_day[day]:
            docs.append(c)
            for k, v in c.fields.items():
                additive[k] = additive.get(k, 0.0) + v
            authors.apply(c.author, c.author_fields, 1)
        if day:
            end = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(days=1)
            history[day] = history_point({**additive, **authors.shared}, end.timestamp())
    state = {k: v for k, v in {**additive, **authors.shared}.items() if v != 0.0}
    return Rebuilt(platform, state, docs, history, authors)


def platforms_in_index(es: Elasticsearch, index: str) -> list[str]:
    body = es.search(index=index, size=0, query={"term": {"kind": "review"}},
                     aggs={"p": {"terms": {"field": "platforms", "size": 10_000}}}).body
    return sorted(b["key"] for b in body["aggregations"]["p"]["buckets"])


def compare(live: Mapping[str, float], rebuilt: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """Fields where live and rebuilt sums differ beyond float noise: ``{field: (live, rebuilt)}``."""
    diffs = {}
    for k in sorted(set(live) | set(rebuilt)):
        a, b = live.get(k, 0.0), rebuilt.get(k, 0.0)
        if abs(a - b) > TOLERANCE * max(1.0, abs(a), abs(b)):
            diffs[k] = (a, b)
    return diffs


def rebuild(store: ScoreStore, es: Elasticsearch, index: str, platform: str,
            write: bool = True) -> tuple[Rebuilt, dict[str, tuple[float, float]]]:
    """Recompute one platform; compare with the live state; swap it in when ``write``."""
    rebuilt = recompute(es, index, platform)
    diffs = compare(store.state(platform), rebuilt.state)
    diffs.update({f"author:{k}": v for k, v in
                  compare(store.author_state(platform), rebuilt.authors.hash_fields()).items()})
    if write:
        store.replace(platform, rebuilt.state, rebuilt.docs, rebuilt.history, rebuilt.authors)
    return rebuilt, diffs
