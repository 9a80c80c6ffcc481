"""Cost of the maintained robust score: write throughput, read latency and Redis memory by authors.

Applies synthetic reviews (``--reviews`` over ``--weeks`` weeks by ``--authors`` authors, a quarter
of them young accounts, registration weeks spread over ``--reg-weeks``) to one platform through the
store's Lua script on the Redis given, then times the read the widget does (one HGETALL of the
platform hash + ``score_view``) and reports both hashes' field counts and memory, and the memory of
the documents' records (``P:score:d:<shard>``: what a revision subtracts). Everything it
creates (its own key prefix) is removed at the end. Prints one JSON object.

    nice -n 10 python bench/bench_score_state.py --redis-url redis://127.0.0.1:6390/0 --authors 100000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from trustscope.scores import ScoreStore, contribution_of, score_view  # noqa: E402

DAY = 86400.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6390/0")
    ap.add_argument("--reviews", type=int, default=200_000)
    ap.add_argument("--authors", type=int, default=100_000)
    ap.add_argument("--weeks", type=int, default=104)
    ap.add_argument("--reg-weeks", type=int, default=520)
    ap.add_argument("--reads", type=int, default=200)
    args = ap.parse_args()
    client = redis.Redis.from_url(args.redis_url)
    prefix = f"bench-score-{uuid.uuid4().hex[:8]}"
    store = ScoreStore(client, prefix)
    rng = random.Random(1)
    now = time.time()
    try:
        t0 = time.perf_counter()
        batch = []
        for i in range(args.reviews):
            a = rng.randrange(args.authors)
            created = now - rng.uniform(0, args.weeks * 7) * DAY
            young = a % 4 == 0
            reg = created - (rng.uniform(1, 50) * DAY if young else rng.uniform(60, args.reg_weeks * 7) * DAY)
            batch.append(contribution_of({
                "id": f"r{i}", "kind": "review", "platforms": ["p"], "rating": rng.randint(1, 5), "created_at": created,
                "author_id": f"user.{a}", "author_created_at": reg, "author_review_count": 1 if young else 20,
                "integrity": {"verdict": rng.choice(["verified"] * 8 + ["fake", "suspicious"]), "revision": 0}}))
            if len(batch) == 500:
                store.apply(batch, snapshot=False)
                batch = []
        store.apply(batch, snapshot=False)
        write_s = time.perf_counter() - t0
        times = []
        for _ in range(args.reads):
            t = time.perf_counter()
            view = score_view("p", store.state("p"), min_verified=1)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out = {
            "reviews": args.reviews, "authors": args.authors, "weeks": args.weeks, "reg_weeks": args.reg_weeks,
            "write_reviews_per_s": round(args.reviews / write_s),
            "platform_hash_fields": client.hlen(store.state_key("p")),
            "platform_hash_bytes": client.memory_usage(store.state_key("p")),
            "author_hash_fields": client.hlen(store.author_hash_key("p")),
            "author_hash_bytes": client.memory_usage(store.author_hash_key("p"), samples=0),
            "doc_record_hashes": len(doc_keys := list(client.scan_iter(f"{store.base}d:*", count=5000))),
            "doc_records_mb": round((doc_mb := sum(client.memory_usage(k, samples=0) or 0 for k in doc_keys))
                                    / 2**20, 1),
            "doc_record_bytes_per_review": round(doc_mb / args.reviews),
            "read_ms_p50": round(statistics.median(times), 2), "read_ms_p95": round(times[int(0.95 * len(times))], 2),
            "score": view.verified_score,
        }
        print(json.dumps(out))
    finally:
        keys = list(client.scan_iter(f"{prefix}:*", count=5000))
        for k in range(0, len(keys), 1000):
            client.delete(*keys[k:k + 1000])


if __name__ == "__main__":
    main()
