"""Widget throughput and latency with wrk, cached, and with Elasticsearch unreachable.

Seeds a few platforms (reviews written through the real indexer stage with its score hook, against
the Redis and Elasticsearch given), starts the gateway with uvicorn (``--workers``), warms each URL
once, then runs wrk on the widget card, the badge and the widget JSON. Then it starts a second
gateway on the same Redis with Elasticsearch unreachable (a port nothing listens on: the gateway's
view of a stopped cluster) and counts non-200 answers for platforms seen before.

    nice -n 10 python bench/bench_widget.py --redis-url redis://127.0.0.1:6390/0 --es-url http://127.0.0.1:9250
    python bench/bench_widget.py --workers 2 --duration 15 --connections 64 --cpus 0,1

``--cpus`` pins the gateway and wrk with taskset (e.g. 0,1 = "2 cores"). Prints one JSON object.
Besides wrk's figures it reports the CPU time the gateway (all workers) and wrk spent per request,
and the throughput two dedicated cores would give at that cost: on a shared machine wall-clock
latency percentiles mostly measure the other tenants, CPU per request much less so.
Everything it creates (key prefix, indices) is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PLATFORMS = ["alipay", "ppdai", "lufax"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(redis_url: str, es_url: str, prefix: str, per_platform: int) -> None:
    """Reviews with verdicts, indexed by the real indexer stage (which maintains the scores)."""
    import orjson
    import redis
    from elasticsearch import Elasticsearch

    from services.indexer.stage import IndexerStage
    from trustscope.bus import Message
    from trustscope.es import DocIndices
    from trustscope.samples import reviews
    from trustscope.schemas import DocumentIn
    from trustscope.scores import ScoreStore

    es = Elasticsearch(es_url, request_timeout=60)
    indices = DocIndices(prefix)
    indices.migrate(es)
    stage = IndexerStage(es, indices, scores=ScoreStore(redis.Redis.from_url(redis_url), prefix))
    rng = random.Random(5)
    now = datetime.now(timezone.utc)
    items = reviews(per_platform * 8, seed=3, end=now)
    messages = []
    for i, item in enumerate(items):
        item["platforms"] = [PLATFORMS[i % len(PLATFORMS)]]
        doc = orjson.loads(DocumentIn.model_validate(item).to_document(item["platforms"]).to_json())
        verdict = rng.choices(["verified", "suspicious", "fake"], [0.8, 0.1, 0.1])[0]
        doc["integrity"] = {"verdict": verdict, "fake_prob": 0.1, "reasons": [] if verdict == "verified" else ["burst: x"],
                            "reason_codes": [] if verdict == "verified" else ["burst"], "revision": 0,
                            "engine": "bench", "updated_at": now.isoformat()}
        messages.append(Message("verified", str(i), {"doc": orjson.dumps(doc).decode(), "op": "index"}))
    for k in range(0, len(messages), 500):
        stage.process(messages[k:k + 500])
    es.indices.refresh(index=indices.read_alias)
    es.close()


def cleanup(redis_url: str, es_url: str, prefix: str) -> None:
    import redis
    from elasticsearch import Elasticsearch

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    es = Elasticsearch(es_url, request_timeout=60)
    names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
    if names:
        es.indices.delete(index=",".join(names), ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-docs")
    es.close()


def start_gateway(port: int, env: dict[str, str], workers: int, cpus: str | None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "services.gateway.app:app", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gateway did not start")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (the uvicorn workers)."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tck
    return total


def wrk(url: str, duration: int, connections: int, threads: int, cpus: str | None,
        server_pid: int | None = None) -> dict[str, float]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-H", "Accept-Language: zh-CN", url]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    before_server = tree_cpu(server_pid) if server_pid else 0.0
    before_wrk = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    after_wrk = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = (tree_cpu(server_pid) - before_server) if server_pid else float("nan")
    wrk_cpu = (after_wrk.ru_utime + after_wrk.ru_stime) - (before_wrk.ru_utime + before_wrk.ru_stime)

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    per_req = (server_cpu + wrk_cpu) / total if total else float("nan")
    return {"rps": rps, "p50_ms": ms("50"), "p90_ms": ms("90"), "p99_ms": ms("99"), "requests": total,
            "server_cpu_us_per_req": round(server_cpu / total * 1e6, 1) if total else float("nan"),
            "wrk_cpu_us_per_req": round(wrk_cpu / total * 1e6, 1) if total else float("nan"),
            # what 2 dedicated cores could serve at this CPU cost (server + load generator)
            "capacity_2_cores_rps": round(2.0 / per_req) if per_req == per_req and per_req > 0 else float("nan"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis-url", default=os.environ.get("TS_REDIS_URL", "redis://127.0.0.1:6390/0"))
    ap.add_argument("--es-url", default=os.environ.get("TS_ES_URL", "http://127.0.0.1:9250"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-platform", type=int, default=200, help="reviews per platform (x8 / 3 platforms)")
    ap.add_argument("--cpus", default=None, help="taskset CPU list for gateway and wrk, e.g. 0,1")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON result to this file")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found (apt-get install wrk)")
    prefix = f"benchw{uuid.uuid4().hex[:8]}"
    env = {"TS_REDIS_URL": args.redis_url, "TS_ES_URL": args.es_url, "TS_STREAM_PREFIX": prefix,
           "TS_ES_INDEX_PREFIX": prefix, "TS_LOG_LEVEL": "WARNING", "TS_PUBLIC_BASE_URL": "https://trustscope.example",
           "TS_SCORE_MIN_VERIFIED": "10"}
    result: dict[str, object] = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
                                 "workers": args.workers, "connections": args.connections, "cpus": args.cpus,
                                 "duration_s": args.duration}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        seed(args.redis_url, args.es_url, prefix, args.per_platform)
        port = free_port()
        procs.append(start_gateway(port, env, args.workers, args.cpus))
        base = f"http://127.0.0.1:{port}"
        urls = {"card": f"{base}/widget/alipay", "badge": f"{base}/widget/alipay/badge.svg",
                "json": f"{base}/v1/widgets/alipay"}
        for pid in PLATFORMS:  # first views: builds the last-good payloads
            for suffix in ("", "/badge.svg"):
                urllib.request.urlopen(urllib.request.Request(f"{base}/widget/{pid}{suffix}",
                                                              headers={"Accept-Language": "zh-CN"}), timeout=10).read()
        server_pid = procs[-1].pid
        result["load_average_before"] = os.getloadavg()
        result["cached"] = {name: wrk(url, args.duration, args.connections, args.threads, args.cpus, server_pid)
                            for name, url in urls.items()}
        first = procs.pop()
        first.terminate()
        first.wait(timeout=30)  # reaped now, so its CPU time is not counted as wrk's below
        # Elasticsearch unreachable: a gateway whose cluster is gone (same Redis, dead ES port)
        down_port = free_port()
        procs.append(start_gateway(down_port, {**env, "TS_ES_URL": f"http://127.0.0.1:{free_port()}"},
                                   args.workers, args.cpus))
        down = {}
        for pid in PLATFORMS:
            down[pid] = wrk(f"http://127.0.0.1:{down_port}/widget/{pid}", max(3, args.duration // 2),
                            args.connections, args.threads, args.cpus, procs[-1].pid)
        result["es_down"] = down
        total = sum(int(v["requests"]) for v in down.values())
        bad = sum(int(v["non_2xx"]) + int(v["socket_errors"]) for v in down.values())
        result["es_down_ok_share"] = (total - bad) / total if total else 0.0
        result["load_average_after"] = os.getloadavg()
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        cleanup(args.redis_url, args.es_url, prefix)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
