"""Poller throughput: parsing RSS/Atom and JSON into documents, and whole polls into a real Redis.

    python bench/bench_pollers.py -n 2000 [--redis-url redis://127.0.0.1:6395/0]

Parsing is measured on synthetic feeds of N items (Chinese finance-news-like text with HTML). With
``--redis-url`` a local HTTP server serves them and three polls are timed under a fresh key prefix
(removed afterwards): the first sends everything through Intake; the second gets 304s; the third
has its HTTP validators dropped, so it downloads and parses again and the Redis ``seen`` state
must stop every re-send.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from trustscope.pollers.config import parse_config
from trustscope.pollers.feed import parse_feed
from trustscope.pollers.jsonapi import parse_json

SUBJECTS = ["某消费金融公司", "一家网贷平台", "某银行信用卡中心", "某理财平台", "某支付机构"]
EVENTS = ["下调借款利率", "被曝暴力催收", "上线新的分期产品", "回应用户投诉", "因违规被罚款", "宣布暂停新增业务"]
TAILS = ["业内人士认为此举影响有限。", "多名用户在社交平台表达不满。", "监管部门表示将持续关注。", "公司称运营一切正常。"]


def synthetic(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    items = []
    for i in range(n):
        subject, event = rng.choice(SUBJECTS), rng.choice(EVENTS)
        body = "".join(f"<p>{subject}{event}，{rng.choice(TAILS)}</p>" for _ in range(rng.randint(2, 6)))
        items.append({"id": f"bench-{i}", "title": f"{subject}{event}", "html": body,
                      "time": start + timedelta(minutes=7 * i)})
    return items


def rss_of(items: list[dict[str, Any]]) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench</title>']
    for it in items:
        parts.append(f"<item><guid>{it['id']}</guid><title>{it['title']}</title>"
                     f"<link>http://bench.test.invalid/{it['id']}</link>"
                     f"<pubDate>{format_datetime(it['time'])}</pubDate>"
                     f"<description><![CDATA[{it['html']}]]></description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def json_of(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"data": {"items": [
        {"id": it["id"], "title": it["title"], "content": it["html"], "published": it["time"].isoformat(),
         "user": {"id": f"u{i % 97}"}} for i, it in enumerate(items)]}})


def config(url: str) -> Any:
    return parse_config({"sources": [
        {"name": "bench-rss", "type": "feed", "url": f"{url}/rss", "max_bytes": 1 << 28},
        {"name": "bench-json", "type": "json", "url": f"{url}/json", "items_path": "data.items", "html": True,
         "max_bytes": 1 << 28, "fields": {"source_id": "id", "text": "content", "title": "title",
                                          "created_at": "published", "author.id": "user.id"}}]})


def timed(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def serve(routes: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = routes[self.path.split("?")[0]]
            etag = f'"{len(body)}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="items per feed")
    ap.add_argument("--redis-url", help="also time whole polls into this Redis")
    args = ap.parse_args()
    items = synthetic(args.n)
    rss, body = rss_of(items), json_of(items)
    cfg = config("http://127.0.0.1:1")
    print(f"items per source: {args.n}; RSS {len(rss) / 1e6:.2f} MB, JSON {len(body) / 1e6:.2f} MB")
    seconds, parsed = timed(lambda: parse_feed(rss, cfg.sources[0]))
    print(f"parse RSS : {seconds:.3f} s  {len(parsed.items) / seconds:8.0f} items/s  ({len(parsed.skipped)} skipped)")
    seconds, parsed = timed(lambda: parse_json(body, cfg.sources[1]))
    print(f"parse JSON: {seconds:.3f} s  {len(parsed.items) / seconds:8.0f} items/s  ({len(parsed.skipped)} skipped)")
    if not args.redis_url:
        return

    import redis

    from trustscope.platforms import PlatformRegistry
    from trustscope.pollers import Poller
    from trustscope.settings import Settings

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=args.redis_url, stream_prefix=prefix, log_level="WARNING", log_json=False)
    client = redis.Redis.from_url(args.redis_url)
    httpd = serve({"/rss": rss, "/json": body})
    try:
        PlatformRegistry(client, prefix).seed_defaults()
        with Poller(config(f"http://127.0.0.1:{httpd.server_address[1]}"), client, settings) as poller:
            for label in ("first poll (all new)", "second poll (304)", "third poll (no validators)"):
                if label.startswith("third"):
                    for name in ("bench-rss", "bench-json"):
                        client.hdel(f"{prefix}:poller:{name}", "etag", "last_modified")
                t0 = time.perf_counter()
                results = poller.run_once(force=True)
                seconds = time.perf_counter() - t0
                summary = ", ".join(f"{r.source}: {r.outcome} sent={r.sent} seen={r.seen} old={r.old}"
                                    for r in results)
                rate = sum(r.sent for r in results) / seconds
                print(f"{label:28s}: {seconds:.3f} s  {rate:8.0f} docs/s sent  [{summary}]")
        print(f"stream length: {client.xlen(f'{prefix}:stream:ingest')}")
    finally:
        httpd.shutdown()
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()


if __name__ == "__main__":
    main()
