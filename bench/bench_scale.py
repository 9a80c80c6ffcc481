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
3. memory: VmRSS / VmHWM of each worker, Redis and Elasticsearch, Redis ``used_memory`` and the
   index's store size.

Because the two cores are shared with other jobs, wall-clock docs/s is not comparable between runs.
The contention-insensitive figure is **CPU seconds per document**: user + system CPU time (from
``/proc/<pid>/stat``, what ``psutil.Process.cpu_times()`` reads) of every process involved (each
worker, Redis, Elasticsearch, and this process, which runs intake) over the throughput phase,
divided by the documents, in total and per tenth of the run. With ``--servers private`` (the
default) Redis and Elasticsearch are started for this run alone (AOF on; ES heap ``--es-heap``), so
their CPU time is this pipeline's and nobody else's; ``--servers shared`` uses TS_BENCH_REDIS_URL /
TS_BENCH_ES_URL (default the test servers on 6390/9250) and their CPU is then only an upper bound.
The 1-minute load average is sampled with every indexed-count sample.
Everything it created is deleted (private servers stopped) at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson
import redis
from elasticsearch import Elasticsearch

from tests.fault.harness import PrivateES, PrivateRedis, WorkerProcess, settings_for
from trustscope.es.indices import DocIndices
from trustscope.intake import Intake
from trustscope.samples import reviews
from trustscope.schemas import DocumentIn


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15 of proc(5))


class CpuMeter:
    """CPU seconds of a fixed set of named processes, read together."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def read(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}


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


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))]


def measure_latency(intake: Intake, es: Elasticsearch, alias: str, prefix: str, rate: float,
                    rate_seconds: float, result: dict[str, object]) -> None:
    """Offer ``rate`` documents/s for ``rate_seconds``; time each from submit until a search finds it."""
    lat_items = reviews(int(rate * rate_seconds), seed=6, source=f"lat-{prefix}", end=datetime.now(timezone.utc))
    sent: dict[str, float] = {}
    found: dict[str, float] = {}
    t_start = time.perf_counter()
    tick = 0.1
    per_tick = max(1, int(round(rate * tick)))
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
        if now - t_start > rate_seconds + 120:
            break
        time.sleep(0.05)
    lat = [found[d] - sent[d] for d in found]
    result.update({"latency_rate_docs_s": rate, "latency_docs": len(sent), "latency_found": len(found),
                   "latency_p50_ms": round(statistics.median(lat) * 1000),
                   "latency_p95_ms": round(pct(lat, 0.95) * 1000), "latency_max_ms": round(max(lat) * 1000)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--rate-seconds", type=float, default=30.0)
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    ap.add_argument("--servers", choices=("private", "shared"), default="private",
                    help="start a Redis and an Elasticsearch for this run alone (default), or use the shared ones")
    ap.add_argument("--es-heap", default="1g")
    ap.add_argument("--es-url", default="", help="Elasticsearch node(s), comma separated, instead of a private "
                    "node (e.g. infra/local/es-cluster.sh's three); their CPU is metered too")
    ap.add_argument("--es-replicas", type=int, default=None, help="number_of_replicas of the index")
    args = ap.parse_args()
    private: list[PrivateRedis | PrivateES] = []
    if args.servers == "private":
        nodes: list[PrivateRedis | PrivateES] = [PrivateRedis()] + ([] if args.es_url else [PrivateES(heap=args.es_heap)])
        try:
            for node in nodes:
                private.append(node)
                node.start(wipe=True)
        except BaseException:
            for node in private:
                node.stop()
            raise
        redis_url = nodes[0].url
        es_url = args.es_url or nodes[1].url
    else:
        redis_url = os.environ.get("TS_BENCH_REDIS_URL", "redis://127.0.0.1:6390/0")
        es_url = args.es_url or os.environ.get("TS_BENCH_ES_URL", "http://127.0.0.1:9250")
    es_urls = [u.strip() for u in es_url.split(",") if u.strip()]
    servers = [("redis", redis_url)] + [("elasticsearch" if len(es_urls) == 1 else f"elasticsearch-{port_of(u)}", u)
                                        for u in es_urls]
    prefix = f"bs{uuid.uuid4().hex[:8]}"
    settings = settings_for(redis_url, es_url, prefix, claim_idle_ms=30_000, max_deliveries=5, batch_size=256,
                            batch_wait_ms=200, outage_backoff_base_ms=500, outage_backoff_max_ms=30_000)
    client = redis.Redis.from_url(redis_url)
    es = Elasticsearch(es_urls, request_timeout=60)
    alias = f"{prefix}-docs"
    intake = Intake(client, settings)
    intake.registry.seed_defaults()
    ingest_key = f"{prefix}:stream:ingest"
    workers: list[WorkerProcess] = []
    tmp = tempfile.TemporaryDirectory()
    result: dict[str, object] = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
                                 "docs": args.docs, "replicas": args.replicas, "servers": args.servers,
                                 "load_avg_start": os.getloadavg()[0]}
    try:
        if args.es_replicas is not None:  # the indexer's own migrate() then finds the index there
            DocIndices(prefix).migrate(es, replicas=args.es_replicas)
            result["es_replicas"] = args.es_replicas
        for name in ("indexer", "integrity", "sentiment"):
            for _ in range(args.replicas):
                workers.append(WorkerProcess(name, settings, Path(tmp.name),
                                             {"TS_TORCH_THREADS": "0", "TS_LOG_LEVEL": "WARNING"}).start())
        for w in workers:
            w.wait_ready(timeout=300)
        server_pids = {name: pid_listening(port_of(url)) for name, url in servers}
        meter = CpuMeter({**{f"{w.name}-{w.metrics_port}": w.proc.pid for w in workers if w.proc is not None},
                          **{name: pid for name, pid in server_pids.items() if pid},
                          "bench-intake": os.getpid()})

        def indexed() -> int:
            try:
                es.indices.refresh(index=alias)
                return int(es.count(index=alias)["count"])
            except Exception:  # noqa: BLE001 - index not there before the first write
                return 0

        # 1. throughput
        source = f"scale-{prefix}"
        items = reviews(args.docs, seed=5, source=source, end=datetime.now(timezone.utc))
        deadline = time.perf_counter() + args.timeout
        # (seconds since start, indexed count, total CPU seconds of every process, 1-min load)
        samples: list[tuple[float, int, float, float]] = []
        cpu0 = meter.read()
        base_cpu = sum(cpu0.values())

        def sample(count: int) -> None:
            samples.append((time.perf_counter() - t0, count, sum(meter.read().values()) - base_cpu,
                            os.getloadavg()[0]))
            if len(samples) % 60 == 0:  # a progress line a minute, so a long run shows its course
                t, c, cpu, load = samples[-1]
                print(orjson.dumps({"t_s": round(t), "indexed": c, "cpu_s": round(cpu, 1),
                                    "load": round(load, 2)}).decode(), file=sys.stderr, flush=True)

        t0 = time.perf_counter()
        next_sample = t0
        submitted = 0
        for start in range(0, len(items), 500):
            while int(client.xlen(ingest_key)) > 20_000 and time.perf_counter() < deadline:
                time.sleep(0.2)
            if time.perf_counter() >= deadline:
                break
            intake.submit([DocumentIn.model_validate(x) for x in items[start:start + 500]])
            submitted = min(len(items), start + 500)
            if time.perf_counter() >= next_sample:
                sample(indexed())
                next_sample += 1.0
        submitted_s = time.perf_counter() - t0
        count = indexed()
        while count < submitted and time.perf_counter() < deadline:
            time.sleep(1.0)
            count = indexed()
            sample(count)
        total_s = time.perf_counter() - t0
        cpu1 = meter.read()
        del items
        complete = count >= args.docs
        if not complete:  # report what was reached: the tenths completed and the cost so far
            result.update({"completed": False, "submitted": submitted, "indexed": count})
        docs_done = count
        tenths, cpu_tenths = [], []
        for k in range(10):
            lo, hi = args.docs * k // 10, args.docs * (k + 1) // 10
            if hi > count:
                break
            s_lo = next((s for s in samples if s[1] >= lo), None) if lo else (0.0, 0, 0.0, 0.0)
            s_hi = next(s for s in samples if s[1] >= hi)
            s_lo = s_lo or s_hi
            # a tenth that fell inside one sampling interval has no rate of its own
            tenths.append(round((hi - lo) / (s_hi[0] - s_lo[0])) if s_hi[0] > s_lo[0] else None)
            cpu_tenths.append(round((s_hi[2] - s_lo[2]) / (s_hi[1] - s_lo[1]) * 1000, 2)
                              if s_hi[1] > s_lo[1] else None)
        cpu_by_process = {name: round(cpu1[name] - cpu0[name], 1) for name in cpu0}
        cpu_total = sum(cpu_by_process.values())
        loads = [s[3] for s in samples]
        result.update({"throughput_docs_s": round(docs_done / total_s, 1), "total_s": round(total_s, 1),
                       "submit_s": round(submitted_s, 1), "docs_s_per_tenth": tenths,
                       "cpu_s_total": round(cpu_total, 1),
                       "cpu_ms_per_doc": round(cpu_total / max(docs_done, 1) * 1000, 3),
                       "cpu_ms_per_doc_by_process": {n: round(v / max(docs_done, 1) * 1000, 3)
                                                     for n, v in cpu_by_process.items()},
                       "cpu_ms_per_doc_per_tenth": cpu_tenths,
                       "load_avg_during": {"min": min(loads), "mean": round(sum(loads) / len(loads), 2), "max": max(loads)}})
        print(orjson.dumps(result).decode(), flush=True)

        # 2. latency at a fixed offered rate (skipped after a timeout, or with --rate-seconds 0)
        if complete and args.rate_seconds > 0:
            measure_latency(intake, es, alias, prefix, args.rate, args.rate_seconds, result)

        # 3. memory
        mem = {}
        for w in workers:
            if w.proc is not None:
                rss, peak = rss_mb(w.proc.pid)
                mem[f"{w.name}-{w.metrics_port}"] = {"rss_mb": round(rss), "peak_mb": round(peak)}
        for name, url in servers:
            pid = pid_listening(port_of(url))
            if pid:
                rss, peak = rss_mb(pid)
                mem[name] = {"rss_mb": round(rss), "peak_mb": round(peak)}
        mem["redis"] = {**mem.get("redis", {}), "used_memory_mb": round(int(client.info("memory")["used_memory"]) / 2**20)}
        stats = es.indices.stats(index=alias, metric="store")["_all"]
        mem["index_store_mb"] = {"primaries": round(stats["primaries"]["store"]["size_in_bytes"] / 2**20),
                                 "total": round(stats["total"]["store"]["size_in_bytes"] / 2**20)}
        result["memory"] = mem
        result["load_avg_end"] = os.getloadavg()[0]
        print(orjson.dumps(result).decode(), flush=True)
    finally:
        for w in workers:
            w.stop()
        tmp.cleanup()
        # private servers are wiped at their next start (deleting a million keys one by one takes
        # minutes); on servers that outlive this run, delete what it created
        if not any(isinstance(n, PrivateRedis) for n in private):
            for key in client.scan_iter(f"{prefix}:*", count=1000):
                client.delete(key)
        if not any(isinstance(n, PrivateES) for n in private):
            names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
            if names:
                es.indices.delete(index=",".join(names))
            es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-docs")
        for node in private:
            node.stop()


if __name__ == "__main__":
    main()
