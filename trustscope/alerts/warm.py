"""Warm the per-platform baselines from the documents already in Elasticsearch.

A fresh alerter knows only the prior (one signal post a day), so on its first day a busy platform's
ordinary clusters can look like bursts (docs/benchmarks.md measures it). This replays the last
``days`` of indexed history into the rate model as hourly counts of rumour-like and negative posts
per platform, oldest first, so the baselines start where they would be had the alerter been running.
Platforms whose baseline already exists are skipped unless ``force``: counting the same history
twice would double it.
"""

from __future__ import annotations

import time
from typing import Any

from elasticsearch import Elasticsearch

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.rates import RateModel

KINDS = ("rumour", "negative")


def history_query(cfg: AlertConfig, days: float) -> dict[str, Any]:
    signal = {"rumour": {"range": {"rumour.score": {"gte": cfg.rumour_threshold}}},
              "negative": {"term": {"sentiment.label": "negative"}}}
    return {"size": 0, "query": {"range": {"created_at": {"gte": f"now-{int(days * 24)}h"}}},
            "aggs": {"first": {"min": {"field": "created_at"}}, "platforms": {"terms": {"field": "platforms", "size": 1000}, "aggs": {
                "hours": {"date_histogram": {"field": "created_at", "fixed_interval": "1h", "min_doc_count": 1},
                          "aggs": {k: {"filter": f} for k, f in signal.items()}}}}}}


def warm_baselines(es: Elasticsearch, index: str, rates: RateModel, days: float = 14.0, force: bool = False,
                   now: float | None = None) -> dict[str, dict[str, int]]:
    """Feed ``days`` of history into ``rates``; returns {platform: {kind: posts counted}} (skipped: absent)."""
    now = time.time() if now is None else now
    start = now - days * 86400
    result = es.search(index=index, **history_query(rates.cfg, days)).body
    first = result["aggregations"]["first"].get("value")
    if first is not None:  # an index younger than ``days``: its history starts with its first document
        start = max(start, first / 1000.0)
    out: dict[str, dict[str, int]] = {}
    for pb in result["aggregations"]["platforms"]["buckets"]:
        platform = pb["key"]
        if not force and any(rates.client.exists(rates.key(platform, k)) for k in KINDS):
            continue
        counts = {k: 0 for k in KINDS}
        for kind in KINDS:
            rates.observe(platform, kind, start, posts=0)  # exposure starts with the history window
        for hb in pb["hours"]["buckets"]:
            at = hb["key"] / 1000.0 + 1800  # the middle of the hour
            for kind in KINDS:
                n = int(hb[kind]["doc_count"])
                if n:
                    rates.observe(platform, kind, at, posts=n)
                    counts[kind] += n
        for kind in KINDS:
            rates.observe(platform, kind, now, posts=0)  # and runs up to now
        out[platform] = counts
    return out
