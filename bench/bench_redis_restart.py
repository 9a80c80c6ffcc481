"""Redis restarted (AOF on) under a running integrity worker: how many documents are dead-lettered
and how many reach the next stream, before and after the Lua scripts became Script objects.

    python bench/bench_redis_restart.py --docs 3000 [--code-dir /path/to/older/checkout]

A private Redis (infra/local/redis.sh, AOF everysec) on its own port; documents are put on the
``scored`` stream as the sentiment stage would, half before and half after a restart of Redis in
the middle of the run. ``--code-dir`` runs the worker from another checkout (the "before").
Small claim timer and delivery limit (1 s x 3) so the old failure mode shows within a minute.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import redis

from tests.conftest import _run_dir
from tests.fault.harness import REPO, PrivateRedis, WorkerProcess, sample_inputs, settings_for, verified_messages
from tests.integration.helpers import free_port
from trustscope.bus import StreamBus


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--code-dir", type=Path, default=REPO)
    ap.add_argument("--settle", type=float, default=60.0, help="seconds to wait after the restart")
    args = ap.parse_args()
    node = PrivateRedis(port=free_port())
    node.start(wipe=True)
    prefix = f"br{uuid.uuid4().hex[:6]}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(node.url, "http://127.0.0.1:1", prefix, claim_idle_ms=1000, max_deliveries=3,
                                    batch_size=128)
            client = redis.Redis.from_url(node.url)
            bus = StreamBus(client, prefix)
            worker = WorkerProcess("integrity", settings, Path(tmp), code_dir=args.code_dir).start()
            deadline = time.monotonic() + 120
            while not any("worker.started" in line for line in worker.log_lines()):
                assert time.monotonic() < deadline, worker.log_tail()
                time.sleep(0.3)
            msgs = verified_messages(sample_inputs(args.docs, source=f"restart-{prefix}"))
            half = len(msgs) // 2
            bus.publish("scored", msgs[:half])
            while client.xlen(bus.key("scored")) > 0 and time.monotonic() < deadline + 60:
                time.sleep(0.2)
            node.stop()
            node.start()
            client = redis.Redis.from_url(node.url)
            bus = StreamBus(client, prefix)
            bus.publish("scored", msgs[half:])
            t0 = time.monotonic()
            while time.monotonic() - t0 < args.settle:
                if client.xlen(bus.key("scored")) == 0:
                    break
                time.sleep(0.5)
            time.sleep(2.0)
            out = {"code": str(args.code_dir), "docs": args.docs,
                   "forwarded_to_verified": int(client.xlen(bus.key("verified"))),
                   "dead_lettered": int(client.xlen(bus.key("dead"))),
                   "left_in_scored": int(client.xlen(bus.key("scored"))),
                   "noscript_log_lines": sum("NoScript" in line for line in worker.log_lines()),
                   "log_lines": len(worker.log_lines())}
            print(orjson.dumps(out).decode(), flush=True)
            worker.stop()
    finally:
        node.stop()
        shutil.rmtree(_run_dir() / f"redis-{node.port}", ignore_errors=True)


if __name__ == "__main__":
    main()
