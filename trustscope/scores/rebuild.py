"""Recompute score state from Elasticsearch (``trustscope scores rebuild``).

One scan of a platform's reviews gives the same contributions the indexer applied; summing them
must equal the live state (``compare``). ``history`` rebuilds the daily snapshots from the
reviews' creation dates, with today's verdicts (a verdict revised later is applied back in time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch, helpers

from trustscope.scores.contribution import Contribution, contribution_of
from trustscope.scores.store import ScoreStore, history_point

SOURCE = ["id", "kind", "platforms", "rating", "created_at", "integrity.verdict", "integrity.reasons",
          "integrity.revision"]
TOLERANCE = 1e-6  # relative; float sums in another order differ in the last bits only


@dataclass
class Rebuilt:
    platform: str
    state: dict[str, float]
    docs: list[Contribution]
    history: dict[str, dict[str, Any]] = field(default_factory=dict)


def scan_reviews(es: Elasticsearch, index: str, platform: str | None = None) -> Iterator[dict[str, Any]]:
    flt: list[dict[str, Any]] = [{"term": {"kind": "review"}}]
    if platform:
        flt.append({"term": {"platforms": platform}})
    for hit in helpers.scan(es, index=index, query={"query": {"bool": {"filter": flt}}}, _source=SOURCE,
                            size=2000):
        yield hit["_source"]


def recompute(es: Elasticsearch, index: str, platform: str) -> Rebuilt:
    """The state of ``platform`` as the indexer would have built it from the indexed reviews."""
    state: dict[str, float] = {}
    docs: list[Contribution] = []
    by_day: dict[str, dict[str, float]] = {}
    for src in scan_reviews(es, index, platform):
        c = contribution_of(src)
        if c is None or platform not in c.platforms:
            continue
        docs.append(c)
        day = str(src.get("created_at", ""))[:10]
        bucket = by_day.setdefault(day, {})
        for k, v in c.fields.items():
            state[k] = state.get(k, 0.0) + v
            bucket[k] = bucket.get(k, 0.0) + v
    history: dict[str, dict[str, Any]] = {}
    running: dict[str, float] = {}
    for day in sorted(d for d in by_day if d):
        for k, v in by_day[day].items():
            running[k] = running.get(k, 0.0) + v
        end = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(days=1)
        history[day] = history_point(running, end.timestamp())
    return Rebuilt(platform, {k: v for k, v in state.items() if v != 0.0}, docs, history)


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
    if write:
        store.replace(platform, rebuilt.state, rebuilt.docs, rebuilt.history)
    return rebuilt, diffs
