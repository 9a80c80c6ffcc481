"""Elasticsearch unreachable for a while under an indexer worker: how many documents end up
dead-lettered, how much the worker logs, and whether everything is indexed once it is back.

    python bench/bench_outage.py --docs 2000 --down 180 [--code-dir /path/to/older/checkout]

The outage is a local proxy in front of Elasticsearch that closes every connection (what a stopped
node looks like to the client), with the production claim timer and delivery limit (30 s x 5).
Needs a Redis and an Elasticsearch (TS_BENCH_REDIS_URL, TS_BENCH_ES_URL; default the test servers
on 6390/9250). ``--code-dir`` runs the worker from another checkout (the "before" measurement).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import orjson
import redis
from elasticsearch import Elasticsearch

from tests.fault.harness import REPO, FaultProxy, WorkerProcess, sample_inputs, settings_for, verified_messages
from trustscope.bus import StreamBus


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--down", type=float, default=180.0, help="seconds Elasticsearch is unreachable")
    ap.add_argument("--code-dir", type=Path, default=REPO)
    ap.add_argument("--claim-idle-ms", type=int, default=30_000)
    ap.add_argument("--max-deliveries", type=int, default=5)
    args = ap.parse_args()
    redis_url = os.environ.get("TS_BENCH_REDIS_URL", "redis://127.0.0.1:6390/0")
    es_url = os.environ.get("TS_BENCH_ES_URL", "http://127.0.0.1:9250")
    prefix = f"bo{uuid.uuid4().hex[:8]}"
    es = Elasticsearch(es_url, request_timeout=30)
    client = redis.Redis.from_url(redis_url)
    with FaultProxy(urlparse(es_url).port or 9200) as proxy, tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(redis_url, proxy.url, prefix, claim_idle_ms=args.claim_idle_ms,
                                max_deliveries=args.max_deliveries, batch_size=256, batch_wait_ms=200,
                                outage_backoff_base_ms=500, outage_backoff_max_ms=30_000)
        bus = StreamBus(client, prefix, settings.max_deliveries, settings.claim_idle_ms)
        worker = WorkerProcess("indexer", settings, Path(tmp), code_dir=args.code_dir).start()
        try:
            deadline = time.monotonic() + 180
            while not any("worker.started" in line for line in worker.log_lines()):
                assert time.monotonic() < deadline, worker.log_tail()
                time.sleep(0.5)
            proxy.mode = "down"
            log0 = worker.log_bytes()
            bus.publish("verified", verified_messages(sample_inputs(args.docs, source=f"outage-{prefix}")))
            t0 = time.monotonic()
            time.sleep(args.down)
            dead_during = bus.backlog("dead")
            log_during = worker.log_bytes() - log0
            lines_during = len(worker.log_lines())
            ready_code = worker.readyz()[0]
            proxy.mode = "pass"
            alias = f"{prefix}-docs"
            indexed = 0
            back = time.monotonic()
            while time.monotonic() - back < 120:
                es.indices.refresh(index=alias)
                indexed = es.count(index=alias)["count"]
                if indexed + bus.backlog("dead") >= args.docs:
                    break
                time.sleep(1)
            result = {
                "code": str(args.code_dir), "docs": args.docs, "down_s": round(back - t0, 1),
                "claim_idle_ms": args.claim_idle_ms, "max_deliveries": args.max_deliveries,
                "dead_lettered_during_outage": dead_during, "dead_lettered_total": bus.backlog("dead"),
                "indexed_after_recovery": indexed, "recovered_in_s": round(time.monotonic() - back, 1),
                "log_bytes_during_outage": log_during, "log_lines_total": lines_during,
                "readyz_during_outage": ready_code, "proxy_requests_refused": proxy.refused,
            }
            print(orjson.dumps(result).decode(), flush=True)
        finally:
            worker.stop()
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
            names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)
            if names:
                es.indices.delete(index=",".join(names))
            es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-docs")


if __name__ == "__main__":
    main()
