"""Load and scale bench of the stream pipeline on this machine: documents per second end to end,
how the per-document cost grows with the number of documents, ingest-to-searchable latency at a
fixed offered rate, and memory per service.

    nice -n 10 python bench/bench_scale.py --docs 10000 --rate 100 --rate-seconds 30 [--replicas 2]

It starts its own worker processes (``python -m services.sentiment|integrity|indexer``, the shipped
model through ONNX Runtime) against a Redis and an Elasticsearch (TS_BENCH_REDIS_URL,
TS_BENCH_ES_URL; default the test servers on 6390/9250) under a fresh key and index prefix, and
submits through ``trustscope.intake.Intake`` (the code behind ``POST /v1/documents/batch``; HTTP
intake alone is measured in bench_pipeline.py at >3,000 docs/s, far from the bottleneck). Phases:

1. throughput: all ``--docs`` documents submitted in batches of 500 (kept under a 20,000-entry
   ingest backlog), timed until Elasticsearch counts them all; the indexed count is sampled every
   second, so the docs/s of each tenth of the run shows whether the per-document cost stays flat;
2. latency: ``--rate`` documents/s for ``--rate-seconds``, each timed from submit until a search
   finds it (the index refreshes every second);
3. memory: VmRSS / VmHWM of each worker, Redis and Elasticsearch.
Everything it created is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson
import redis
from elasticsearch import Elasticsearch

from tests.fault.harness import WorkerProcess, settings_for
from trustscope.intake import Intake
from trustscope.samples import reviews
from trustscope.schemas import DocumentIn


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def pid_listening(port: int) -> int | None:
    """The pid of the process listening on a local TCP port (for Redis/ES memory), via /proc."""
    hexport = f"{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[1].endswith(":" + hexport) and parts[3] == "0A":
                    inodes.add(parts[9])
        except OSError:
            continue
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--rate-seconds", type=float, default=30.0)
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    args = ap.parse_args()
    redis_url = os.environ.get("TS_BENCH_REDIS_URL", "redis://127.0.0.1:6390/0")
    es_url = os.environ.get("TS_BENCH_ES_URL", "http://127.0.0.1:9250")
    prefix = f"bs{uuid.uuid4().hex[:8]}"
    settings = settings_for(redis_url, es_url, prefix, claim_idle_ms=30_000, max_deliveries=5, batch_size=256,
                            batch_wait_ms=200, outage_backoff_base_ms=500, outage_backoff_max_ms=30_000)
    client = redis.Redis.from_url(redis_url)
    es = Elasticsearch(es_url, request_timeout=60)
    alias = f"{prefix}-docs"
    intake = Intake(client, settings)
    intake.registry.seed_defaults()
    ingest_key = f"{prefix}:stream:ingest"
    workers: list[WorkerProcess] = []
    tmp = tempfile.TemporaryDirectory()
    result: dict[str, object] = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
                                 "docs": args.docs, "replicas": args.replicas, "load_avg_start": os.getloadavg()[0]}
    try:
        for name in ("indexer", "integrity", "sentiment"):
            for _ in range(args.replicas):
                workers.append(WorkerProcess(name, settings, Path(tmp.name),
                                             {"TS_TORCH_THREADS": "0", "TS_LOG_LEVEL": "WARNING"}).start())
        for w in workers:
            w.wait_ready(timeout=300)

        def indexed() -> int:
            try:
                es.indices.refresh(index=alias)
                return int(es.count(index=alias)["count"])
            except Exception:  # noqa: BLE001 - index not there before the first write
                return 0

        # 1. throughput
        source = f"scale-{prefix}"
        items = reviews(args.docs, seed=5, source=source, end=datetime.now(timezone.utc))
        samples: list[tuple[float, int]] = []
        t0 = time.perf_counter()
        next_sample = t0
        for start in range(0, len(items), 500):
            while int(client.xlen(ingest_key)) > 20_000:
                time.sleep(0.2)
            intake.submit([DocumentIn.model_validate(x) for x in items[start:start + 500]])
            if time.perf_counter() >= next_sample:
                samples.append((time.perf_counter() - t0, indexed()))
                next_sample += 1.0
        submitted_s = time.perf_counter() - t0
        count = indexed()
        while count < args.docs:
            if time.perf_counter() - t0 > args.timeout:
                raise SystemExit(f"timeout: {count}/{args.docs} indexed")
            time.sleep(1.0)
            count = indexed()
            samples.append((time.perf_counter() - t0, count))
        total_s = time.perf_counter() - t0
        tenths = []
        for k in range(10):
            lo, hi = args.docs * k // 10, args.docs * (k + 1) // 10
            t_lo = next((t for t, c in samples if c >= lo), 0.0) if lo else 0.0
            t_hi = next(t for t, c in samples if c >= hi)
            tenths.append(round((hi - lo) / max(t_hi - t_lo, 1e-6)))
        result.update({"throughput_docs_s": round(args.docs / total_s, 1), "total_s": round(total_s, 1),
                       "submit_s": round(submitted_s, 1), "docs_s_per_tenth": tenths})
        print(orjson.dumps(result).decode(), flush=True)

        # 2. latency at a fixed offered rate
        lat_items = reviews(int(args.rate * args.rate_seconds), seed=6, source=f"lat-{prefix}",
                            end=datetime.now(timezone.utc))
        sent: dict[str, float] = {}
        found: dict[str, float] = {}
        t_start = time.perf_counter()
        tick = 0.1
        per_tick = max(1, int(round(args.rate * tick)))
        i = 0
        while i < len(lat_items) or len(found) < len(sent):
            now = time.perf_counter()
            due = min(len(lat_items), int((now - t_start) / tick + 1) * per_tick)
            if i < due:
                batch = [DocumentIn.model_validate(x) for x in lat_items[i:due]]
                submitted_at = time.perf_counter()
                for o in intake.submit(batch):
                    sent[o.id] = submitted_at
                i = due
            waiting = [d for d in sent if d not in found]
            if waiting:
                hits = es.search(index=alias, size=len(waiting), source=False,
                                 query={"ids": {"values": waiting}})["hits"]["hits"]
                now = time.perf_counter()
                for h in hits:
                    found.setdefault(h["_id"], now)
            if now - t_start > args.rate_seconds + 120:
                break
            time.sleep(0.05)
        lat = [found[d] - sent[d] for d in found]
        result.update({"latency_rate_docs_s": args.rate, "latency_docs": len(sent), "latency_found": len(found),
                       "latency_p50_ms": round(statistics.median(lat) * 1000), "latency_p95_ms": round(pct(lat, 0.95) * 1000),
                       "latency_max_ms": round(max(lat) * 1000)})

        # 3. memory
        mem = {}
        for w in workers:
            if w.proc is not None:
                rss, peak = rss_mb(w.proc.pid)
                mem[f"{w.name}-{w.metrics_port}"] = {"rss_mb": round(rss), "peak_mb": round(peak)}
        for name, url in (("redis", redis_url), ("elasticsearch", es_url)):
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            pid = pid_listening(port)
            if pid:
                rss, peak = rss_mb(pid)
                mem[name] = {"rss_mb": round(rss), "peak_mb": round(peak)}
        result["memory"] = mem
        result["load_avg_end"] = os.getloadavg()[0]
        print(orjson.dumps(result).decode(), flush=True)
    finally:
        for w in workers:
            w.stop()
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
        names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
        if names:
            es.indices.delete(index=",".join(names))
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-docs")
        tmp.cleanup()


if __name__ == "__main__":
    main()
