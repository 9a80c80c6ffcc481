"""End-to-end benchmark against a running stack (``make up``): documents per second from the ingest
API to searchable in Elasticsearch, ingest-to-searchable latency, and each service's memory.

    python bench/bench_pipeline.py -n 5000 --api-key "$KEY"

It posts N synthetic reviews (trustscope.samples) under a fresh source name in NDJSON batches, waits
until Elasticsearch counts them all, then posts single reviews one at a time and polls a search
until each is found. Memory is read from /proc for the pids in the run dir (VmRSS now, VmHWM peak).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import orjson
from elasticsearch import Elasticsearch

from trustscope.samples import reviews

SERVICES = ["ingest", "sentiment", "integrity", "indexer", "gateway"]


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def service_memory(run_dir: Path) -> dict[str, tuple[float, float]]:
    out = {}
    for name in SERVICES:
        pidfile = run_dir / "services" / f"{name}.pid"
        try:
            pid = int(pidfile.read_text().strip())
            out[name] = rss_mb(pid)
        except (OSError, ValueError, KeyError):
            continue
    return out


def post_with_backpressure(client: httpx.Client, body: bytes) -> int:
    """Post one NDJSON batch, waiting out 503 + Retry-After the way a well-behaved client does.

    Returns the number of lines accepted; a rejected line stops the benchmark (it would never be
    indexed and the run would wait for it forever)."""
    while True:
        r = client.post("/v1/documents/batch", content=body)
        if r.status_code == 503:
            time.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        r.raise_for_status()
        summary = r.json()
        if summary["rejected"]:
            raise SystemExit(f"ingest rejected {summary['rejected']} lines, first: {summary['errors'][0]}")
        return int(summary["accepted"]) + int(summary["updated"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="reviews for the throughput run")
    ap.add_argument("--latency-samples", type=int, default=20)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--stall-timeout", type=float, default=120.0,
                    help="give up when the indexed count has not grown for this many seconds")
    ap.add_argument("--ingest-url", default="http://127.0.0.1:8001")
    ap.add_argument("--es-url", default=os.environ.get("TS_ES_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--index", default=os.environ.get("TS_ES_INDEX_PREFIX", "trustscope") + "-docs")
    ap.add_argument("--api-key", default=os.environ.get("TS_API_KEY"))
    ap.add_argument("--run-dir", default=os.environ.get("TS_RUN_DIR", str(Path.home() / ".cache/trustscope/run")))
    args = ap.parse_args()

    source = f"bench-{uuid.uuid4().hex[:8]}"
    items = reviews(args.n, seed=int(time.time()), source=source, end=datetime.now(timezone.utc))
    es = Elasticsearch(args.es_url, request_timeout=30)
    client = httpx.Client(base_url=args.ingest_url, headers={"Authorization": f"Bearer {args.api_key}"},
                          timeout=120)

    def indexed(src: str) -> int:
        es.indices.refresh(index=args.index)
        return int(es.count(index=args.index, query={"term": {"source": src}})["count"])

    started = time.perf_counter()
    for i in range(0, len(items), args.batch):
        body = b"\n".join(orjson.dumps(x) for x in items[i:i + args.batch])
        post_with_backpressure(client, body)
    posted = time.perf_counter()
    count, last_growth = 0, time.perf_counter()
    while count < args.n:
        now_count = indexed(source)
        if now_count > count:
            count, last_growth = now_count, time.perf_counter()
        elif time.perf_counter() - last_growth > args.stall_timeout:
            raise SystemExit(f"stalled: {count}/{args.n} indexed and no growth for {args.stall_timeout:.0f} s; "
                             "see GET /v1/admin/dead-letters and the service logs (make logs)")
        time.sleep(0.25)
    done = time.perf_counter()
    total_s = done - started
    print(f"throughput: {args.n} reviews in {total_s:.1f} s = {args.n / total_s:.0f} docs/s "
          f"(HTTP intake alone {args.n / (posted - started):.0f} docs/s)")

    latencies = []
    lat_source = source + "-lat"
    for item in reviews(args.latency_samples, seed=99, source=lat_source, end=datetime.now(timezone.utc)):
        t0 = time.perf_counter()
        client.post("/v1/documents", json=item).raise_for_status()
        while True:
            hits = es.count(index=args.index, query={"bool": {"filter": [
                {"term": {"source": lat_source}}, {"term": {"source_id": item["source_id"]}}]}})["count"]
            if hits:
                break
            time.sleep(0.02)
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"ingest-to-searchable latency over {len(latencies)} single reviews: "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms (index refresh interval 1 s)")
    for name, (rss, peak) in service_memory(Path(args.run_dir)).items():
        print(f"memory {name:<10} rss {rss:7.1f} MB   peak {peak:7.1f} MB")


if __name__ == "__main__":
    main()
