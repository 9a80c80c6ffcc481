"""Regulator search, aggregations and export at scale, measured through the real gateway over HTTP.

1. Builds ``--docs`` documents in a fresh index made from the shipped template (``DocIndices.migrate``)
   with the official bulk helpers (``helpers.streaming_bulk``). Each document is a synthetic review,
   news item or post (``trustscope.samples`` pieces plus rumour sentences) turned into the pipeline's
   document by ``DocumentIn.to_document`` (normalisation, simplified copy), with sentiment, integrity
   and rumour fields (rumour from the real lexicon), created over the last year.
2. Starts the gateway (uvicorn, one process) on that index with a regulator key, and times
   ``--requests`` searches (text + filters + sorts, first pages and cursor pages) and aggregation calls
   (sentiment per platform over time, negative share, one platform's trend, significant terms).
   Every call also writes its audit entry, as in production.
3. Streams a CSV export of every document (``--export-limit`` caps it) and samples the gateway's
   resident memory every 0.2 s.

    nice -n 10 python bench/bench_search.py --docs 100000 --es-url http://127.0.0.1:9250 \\
        --redis-url redis://127.0.0.1:6390/0
    python bench/bench_search.py --docs 1000000 --build-only  # build and keep the index
    python bench/bench_search.py --reuse PREFIX --direct        # measure (again); --drop deletes it after

Prints one JSON object. Everything created (index, rollups, audit index, Redis keys) is removed at the
end of a run that built its index, unless ``--keep``/``--build-only``; a ``--reuse`` run keeps it unless
``--drop``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

KEY = "bench-regulator-key"
RUMOURS = ["听说{p}要跑路了，大家赶紧提现", "{p}已经暴雷，老板被抓了", "内部消息：{p}资金链断裂，下周停止兑付",
           "{p}被立案调查，千万别再充值", "朋友说{p}的app马上关停，钱取不出来了"]
NEWS = ["{p}发布三季度财报，营收同比增长", "监管部门约谈{p}等多家平台", "{p}下调部分产品利率",
        "{p}推出新的信用评估模型", "行业协会发布网贷平台合规名单，{p}在列"]
TERMS = ["催收", "提现困难", "到账很快", "客服", "利息", "跑路", "暴雷", "额度", "逾期", "满意", "隐藏费用", "审核"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 1)


# --- 1. documents ------------------------------------------------------------------------------
def documents(n: int, seed: int = 5) -> Iterator[dict[str, Any]]:
    from trustscope.rumour.lexicon import score_text
    from trustscope.samples import review
    from trustscope.schemas import DocumentIn

    rng = random.Random(seed)
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    start = now - timedelta(days=365)
    for i in range(n):
        item = review(i, rng, start)
        roll = rng.random()
        if roll < 0.06:
            item.update(kind="social", rating=None, source="weibo",
                        text=rng.choice(RUMOURS).format(p=item["platforms"][0]) + f"（{i}）")
        elif roll < 0.14:
            item.update(kind="news", rating=None, source="finance-news", title=f"快讯 {i}",
                        text=rng.choice(NEWS).format(p=item["platforms"][0]) + f"（{i}）")
        item["created_at"] = (start + timedelta(seconds=rng.randrange(365 * 86400))).isoformat()
        doc = DocumentIn.model_validate(item).to_document(item["platforms"])
        src = json.loads(doc.to_json())
        positive = (item.get("rating") or 3) >= 4 if rng.random() > 0.1 else rng.random() < 0.5
        label = "positive" if positive else ("negative" if rng.random() < 0.85 else "neutral")
        p = rng.uniform(0.6, 0.99) if positive else rng.uniform(0.01, 0.4)
        src["sentiment"] = {"label": label, "score": round(2 * p - 1, 4), "prob_positive": round(p, 4),
                            "scored": True, "model": "bench"}
        v = rng.random()
        verdict = "verified" if v < 0.85 else ("suspicious" if v < 0.95 else "fake")
        src["integrity"] = {"verdict": verdict, "fake_prob": round(rng.random() * (0.2 if verdict == "verified" else 1), 3),
                            "reasons": [] if verdict == "verified" else ["near_duplicate: template"],
                            "reason_codes": [] if verdict == "verified" else ["near_duplicate"],
                            "revision": 0, "engine": "bench", "updated_at": src["ingested_at"]}
        r = score_text(src["text_simplified"])
        src["rumour"] = {"score": r.score, "terms": r.terms, "engine": r.engine}
        yield src


def build_index(es: Any, prefix: str, n: int) -> dict[str, Any]:
    from elasticsearch import helpers

    from trustscope.es import DocIndices
    from trustscope.es.derived import with_derived

    indices = DocIndices(prefix)
    indices.migrate(es)
    es.indices.put_settings(index=indices.write_alias, settings={"refresh_interval": "-1"})
    started = time.perf_counter()
    actions = ({"_op_type": "index", "_index": indices.write_alias, "_id": d["id"], "_source": with_derived(d)}
               for d in documents(n))
    ok = 0
    for success, _info in helpers.streaming_bulk(es.options(request_timeout=120), actions, chunk_size=2000,
                                                 max_retries=3, raise_on_error=True):
        ok += int(success)
        if ok % 100_000 == 0:
            print(f"  indexed {ok:,} in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    es.indices.put_settings(index=indices.write_alias, settings={"refresh_interval": "1s"})
    es.options(request_timeout=600).indices.refresh(index=indices.read_alias)
    elapsed = time.perf_counter() - started
    es.options(request_timeout=1800).indices.forcemerge(index=indices.read_alias, max_num_segments=5)
    count = int(es.count(index=indices.read_alias)["count"])
    return {"documents": count, "index_s": round(elapsed, 1), "docs_per_s": round(ok / elapsed),
            "merge_s": round(time.perf_counter() - started - elapsed, 1)}


# --- 2. the gateway ------------------------------------------------------------------------------
class Gateway:
    def __init__(self, prefix: str, es_url: str, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TS_ES_URL": es_url, "TS_REDIS_URL": redis_url, "TS_ES_INDEX_PREFIX": prefix,
               "TS_STREAM_PREFIX": prefix, "TS_API_KEYS": f"{KEY}:regulator", "TS_RATE_LIMIT_PER_S": "100000",
               "TS_RATE_LIMIT_BURST": "100000", "TS_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "services.gateway.app:app", "--port",
                                      str(self.port), "--log-level", "warning", "--no-access-log"],
                                     cwd=REPO, env=env)
        import httpx

        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("gateway did not start")
            time.sleep(0.3)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def search_params(rng: random.Random) -> dict[str, Any]:
    from trustscope.samples import PLATFORMS

    params: dict[str, Any] = {"size": rng.choice([20, 50, 100])}
    if rng.random() < 0.8:
        params["q"] = rng.choice(TERMS) if rng.random() < 0.7 else f"{rng.choice(TERMS)} {rng.choice(TERMS)}"
    if rng.random() < 0.5:
        params["platform"] = rng.choice(PLATFORMS)
    if rng.random() < 0.3:
        params["sentiment"] = rng.choice(["positive", "negative"])
    if rng.random() < 0.2:
        params["verdict"] = rng.choice(["verified", "suspicious", "fake"])
    if rng.random() < 0.3:
        days = rng.choice([7, 30, 90])
        params["since"] = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
    if rng.random() < 0.1:
        params["rumour_min"] = 0.5
    params["sort"] = rng.choice(["newest", "newest", "relevance", "oldest", "negative"])
    return params


def timed(client: Any, path: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    r = client.get(path, params=params)
    ms = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{path} {params}: {r.status_code} {r.text[:300]}")
    return ms, r.json()


def bench_queries(gw: Gateway, requests: int, agg_rounds: int | None = None) -> dict[str, Any]:
    import httpx

    rng = random.Random(3)
    headers = {"Authorization": f"Bearer {KEY}"}
    out: dict[str, Any] = {}
    with httpx.Client(base_url=gw.url, headers=headers, timeout=120) as c:
        for _ in range(5):  # warm caches and JIT paths
            timed(c, "/v1/search", search_params(rng))
        first, deep = [], []
        for _ in range(requests):
            ms, page = timed(c, "/v1/search", params := search_params(rng))
            first.append(ms)
            cursor = page.get("next_cursor")
            for _ in range(2):  # two more pages through the point in time
                if not cursor:
                    break
                ms, page = timed(c, "/v1/search", {**params, "cursor": cursor})
                deep.append(ms)
                cursor = page.get("next_cursor")
        out["search_first_page_ms"] = {"n": len(first), "p50": pct(first, 50), "p95": pct(first, 95),
                                       "p99": pct(first, 99), "mean": round(statistics.mean(first), 1)}
        out["search_next_pages_ms"] = {"n": len(deep), "p50": pct(deep, 50), "p95": pct(deep, 95)}
        aggs: dict[str, list[float]] = {"sentiment_per_platform": [], "negative_share": [], "platform_trend": [],
                                        "significant_terms": [], "sentiment_per_platform_text_query": []}
        basis: dict[str, set[str]] = {k: set() for k in aggs}
        n_agg = agg_rounds or max(10, requests // 4)
        for i in range(n_agg):
            since = (datetime.now(timezone.utc) - timedelta(days=rng.choice([30, 90, 365]))).isoformat()
            for name, path, params in agg_calls(rng, i, since):
                ms, body = timed(c, path, params)
                aggs[name].append(ms)
                basis[name].add((body.get("basis") or {}).get("method", "sampled" if "sampled" in body else "?"))
        out["aggregations_ms"] = {k: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "basis": sorted(basis[k])}
                                  for k, v in aggs.items() if v}
        every = [x for v in aggs.values() for x in v]
        out["aggregations_all_ms"] = {"n": len(every), "p50": pct(every, 50), "p95": pct(every, 95)}
    return out


def agg_calls(rng: random.Random, i: int, since: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The aggregation requests of round ``i`` (name, path, params): the same mix every run."""
    from trustscope.samples import PLATFORMS

    calls = [
        ("sentiment_per_platform", "/v1/analytics/sentiment",
         {"interval": rng.choice(["day", "week"]), "since": since, "top": 8}),
        ("negative_share", "/v1/analytics/negative-share", {"since": since, "kind": "review"} if i % 2 else {"since": since}),
        ("platform_trend", f"/v1/platforms/{rng.choice(PLATFORMS)}/sentiment", {"interval": "day", "since": since}),
    ]
    if i % 2 == 0:
        calls.append(("significant_terms", "/v1/analytics/significant-terms",
                      {"platform": rng.choice(PLATFORMS), "sentiment": "negative"}))
    else:  # a text query: the rollups cannot answer it, the documents are aggregated directly
        calls.append(("sentiment_per_platform_text_query", "/v1/analytics/sentiment",
                      {"interval": "day", "since": since, "top": 8, "q": rng.choice(TERMS)}))
    return calls


def bench_direct(es: Any, redis_url: str, prefix: str, rounds: int) -> dict[str, Any]:
    """The same aggregation calls without HTTP, auth or audit: the gateway's own query code
    (rollups + live parts, or the significant_terms request) against Elasticsearch and Redis,
    in this process. On a loaded machine this separates the gateway's overhead from the node's."""
    import redis

    from services.gateway import queries, sentiment_view
    from services.gateway.deps import search_filters
    from services.gateway.sentiment_view import SentimentQuery
    from trustscope.es import DocIndices
    from trustscope.es.rollup import SentimentRollups

    client = redis.Redis.from_url(redis_url)
    indices = DocIndices(prefix)
    rollups = SentimentRollups(es, client, indices, prefix)
    rng = random.Random(3)
    times: dict[str, list[float]] = {}
    for i in range(rounds):
        since = (datetime.now(timezone.utc) - timedelta(days=rng.choice([30, 90, 365]))).isoformat()
        for name, path, params in agg_calls(rng, i, since):
            platform = [path.split("/")[3]] if path.startswith("/v1/platforms/") else \
                ([params["platform"]] if "platform" in params else [])
            f = search_filters(q=params.get("q"), platform=platform, kind=params.get("kind"), source=None,
                               sentiment=params.get("sentiment"), verdict=None, rumour_min=None, rumour_max=None,
                               since=params.get("since"), until=None)
            t = time.perf_counter()
            if name == "significant_terms":
                es.search(index=indices.read_alias, **queries.significant_terms(f, 15))
            else:
                interval = None if name == "negative_share" else params.get("interval", "day")
                sentiment_view.answer(es, indices.read_alias, rollups, SentimentQuery(
                    f, interval, detail=name == "platform_trend", only_platforms=f.platforms or None))
            times.setdefault(name, []).append((time.perf_counter() - t) * 1000)
    client.close()
    return {k: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95)} for k, v in times.items()}


def _nested_label_terms(es: Any, index: str, f: Any, interval: str, tz: str) -> int:
    """The text-query aggregation as shipped before the third session: count, then a ``terms`` per
    label (with stats) under the date histogram under the platforms; returns the buckets parsed."""
    from services.gateway import sentiment_view
    from services.gateway.queries import build_query

    query = build_query(f)
    labels = {"terms": {"field": "sentiment.label", "size": 10, "missing": "none"},
              "aggs": {"score": {"stats": {"field": "sentiment.score"}}}}
    aggs: dict[str, Any] = {"p": {"terms": {"field": "platforms", "size": 10_000}, "aggs": {"t": {
        "date_histogram": {"field": "created_at", "calendar_interval": interval, "time_zone": tz, "min_doc_count": 1},
        "aggs": {"labels": labels}}}}}
    matching = int(es.count(index=index, query=query)["count"])
    if matching > 2 * sentiment_view.SAMPLE_DOCUMENTS:
        aggs = {"s": {"random_sampler": {"probability": round(sentiment_view.SAMPLE_DOCUMENTS / matching, 6),
                                         "seed": sentiment_view.SAMPLE_SEED}, "aggs": aggs}}
    found = es.search(index=index, size=0, query=query, aggs=aggs, filter_path="-**.key_as_string").body
    agg = found["aggregations"].get("s", found["aggregations"])["p"]
    n = 0
    for p in agg["buckets"]:
        for t in p["t"]["buckets"]:
            c = sentiment_view.Counts(documents=t["doc_count"])
            for lb in t["labels"]["buckets"]:
                c.labels[lb["key"]] = c.labels.get(lb["key"], 0) + lb["doc_count"]
                c.score_sum += float(lb["score"]["sum"] or 0.0)
                c.score_n += int(lb["score"]["count"])
            n += 1
    return n


def _cpu_ms(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far, from /proc; 0 without a pid."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def compare_shapes(es: Any, prefix: str, rounds: int, es_pid: int | None = None) -> dict[str, Any]:
    """The text-query sentiment aggregation (8 platforms x days, as the benchmark asks it) with the
    previous shape and the current code, interleaved call by call on the same index, so that the
    difference is not the machine's load changing between two runs. With ``es_pid`` (a local node)
    also the CPU time the node and this process spent per call: unlike latency, that hardly depends
    on how many other jobs share the cores (the node's own background work is counted too)."""
    from services.gateway import sentiment_view
    from services.gateway.deps import search_filters
    from services.gateway.sentiment_view import SentimentQuery
    from trustscope.settings import get_settings

    index, tz = f"{prefix}-docs", get_settings().rollup_tz
    rng = random.Random(11)
    times: dict[str, list[float]] = {"previous_nested_terms": [], "current": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    for i in range(rounds):
        since = (datetime.now(timezone.utc) - timedelta(days=rng.choice([30, 90, 365]))).isoformat()
        f = search_filters(q=rng.choice(TERMS), platform=[], kind=None, source=None, sentiment=None, verdict=None,
                           rumour_min=None, rumour_max=None, since=since, until=None)
        order = ["previous_nested_terms", "current"] if i % 2 else ["current", "previous_nested_terms"]
        for name in order:
            t, node, own = time.perf_counter(), _cpu_ms(es_pid), time.process_time()
            if name == "current":
                sentiment_view.answer(es, index, None, SentimentQuery(f, "day", tz))
            else:
                _nested_label_terms(es, index, f, "day", tz)
            times[name].append((time.perf_counter() - t) * 1000)
            cpu[name].append(_cpu_ms(es_pid) - node + (time.process_time() - own) * 1000)
    out: dict[str, Any] = {k: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "mean": round(statistics.mean(v), 1)}
                           for k, v in times.items()}
    if es_pid:
        for k, v in cpu.items():
            out[k]["cpu_ms_node_and_client"] = {"p50": pct(v, 50), "p95": pct(v, 95), "mean": round(statistics.mean(v), 1)}
    return out


def ensure_rollups(es: Any, redis_url: str, prefix: str) -> dict[str, Any]:
    """Build the daily sentiment rollups of a benchmark index once (the indexer does this in
    production, then keeps them current); timed, since a rebuild is also the repair path."""
    import redis

    from trustscope.es import DocIndices
    from trustscope.es.rollup import SentimentRollups

    client = redis.Redis.from_url(redis_url)
    try:
        rollups = SentimentRollups(es, client, DocIndices(prefix), prefix)
        if rollups.is_ready():
            return {"reused": True, "rollup_documents": int(es.count(index=rollups.indices.read_alias)["count"])}
        built = rollups.rebuild()
        return {**built, "rollup_documents": int(es.count(index=rollups.indices.read_alias)["count"])}
    finally:
        client.close()


def bench_export(gw: Gateway, limit: int | None, expected: int) -> dict[str, Any]:
    import httpx

    peak = [gw.rss_mb()]
    before = peak[0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak.append(gw.rss_mb())
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rows = 0
    size = 0
    t = time.perf_counter()
    params: dict[str, Any] = {"format": "csv"}
    if limit:
        params["limit"] = limit
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600) as c, \
            c.stream("GET", "/v1/export", params=params) as r:
        if r.status_code != 200:
            raise RuntimeError(f"export: {r.status_code}")
        last = b""
        for chunk in r.iter_bytes():
            size += len(chunk)
            rows += (last + chunk[:1]).count(b"\r\n") + chunk.count(b"\r\n")  # a CRLF split across chunks
            last = chunk[-1:]
    elapsed = time.perf_counter() - t
    stop.set()
    sampler.join()
    return {"rows": rows - 1, "complete": rows - 1 == (min(limit, expected) if limit else expected),
            "mb": round(size / 1e6, 1), "seconds": round(elapsed, 1),
            "rows_per_s": round((rows - 1) / elapsed), "gateway_rss_mb_before": round(before),
            "gateway_rss_mb_peak": round(max(peak))}


def cleanup(es: Any, redis_url: str, prefix: str) -> None:
    import redis

    names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
    if names:
        es.indices.delete(index=",".join(names), ignore_unavailable=True)
    for family in ("docs", "rollup"):
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-{family}")
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200, help="first-page searches (each + up to 2 pages)")
    ap.add_argument("--export-limit", type=int, default=None, help="cap the CSV export (default: all)")
    ap.add_argument("--es-url", default=os.environ.get("TS_ES_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--redis-url", default=os.environ.get("TS_REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--keep", action="store_true", help="keep the index (print its prefix)")
    ap.add_argument("--reuse", default=None, help="prefix of an index kept by --keep: skip building "
                    "(the index is kept for another run unless --drop)")
    ap.add_argument("--drop", action="store_true", help="delete the index, rollups and keys at the end, even with --reuse")
    ap.add_argument("--build-only", action="store_true", help="build the index (implies --keep) and stop")
    ap.add_argument("--direct", action="store_true", help="also time the aggregations in-process (no HTTP)")
    ap.add_argument("--skip-export", action="store_true", help="stop after the queries")
    ap.add_argument("--agg-rounds", type=int, default=None, help="rounds of aggregation calls (4 calls each, "
                    "half of the rounds with a text query; default: requests / 4)")
    ap.add_argument("--compare-shapes", type=int, default=0, metavar="N",
                    help="only time N text-query aggregations, previous shape vs current, interleaved (with --reuse)")
    ap.add_argument("--es-pid", type=int, default=None, help="with --compare-shapes: the local node's process id, "
                    "to report its CPU time per call")
    args = ap.parse_args()

    from elasticsearch import Elasticsearch

    es = Elasticsearch(args.es_url, request_timeout=300)
    prefix = args.reuse or f"bench{uuid.uuid4().hex[:8]}"
    result: dict[str, Any] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "prefix": prefix, "machine": f"{os.cpu_count()} vCPU"}
    gw = None
    try:
        if args.reuse:
            result["build"] = {"documents": int(es.count(index=f"{prefix}-docs")["count"]), "reused": True}
        else:
            print(f"building {args.docs:,} documents in {prefix}-docs ...", file=sys.stderr, flush=True)
            result["build"] = build_index(es, prefix, args.docs)
        if args.build_only:
            args.keep = True
            return
        if args.compare_shapes:
            result["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
            result["text_query_aggregation_ms"] = compare_shapes(es, prefix, args.compare_shapes, args.es_pid)
            result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            return
        result["rollups"] = ensure_rollups(es, args.redis_url, prefix)
        gw = Gateway(prefix, args.es_url, args.redis_url)
        result["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
        rounds = args.agg_rounds or max(10, args.requests // 4)
        result.update(bench_queries(gw, args.requests, rounds))
        result["load_average_after_queries"] = [round(x, 2) for x in os.getloadavg()]
        if args.direct:
            result["direct_aggregations_ms"] = bench_direct(es, args.redis_url, prefix, rounds)
            result["load_average_after_direct"] = [round(x, 2) for x in os.getloadavg()]
        if args.skip_export:
            return
        expected = int(es.count(index=f"{prefix}-docs")["count"])
        result["export_csv"] = bench_export(gw, args.export_limit, expected)
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if gw is not None:
            gw.stop()
        if args.drop or not (args.keep or args.reuse):
            cleanup(es, args.redis_url, prefix)
        es.close()
        print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
