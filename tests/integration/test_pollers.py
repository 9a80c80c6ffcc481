"""The pollers against a real Redis and a real HTTP server on 127.0.0.1 serving an RSS feed, an Atom
feed and a JSON API (invented Chinese finance items in tests/fixtures/pollers).

What must hold: every valid item lands on the ingest stream exactly once, across polls, restarts and
replicas; unchanged sources cost a 304; new or edited items (and only those) go out again; transient
HTTP errors are retried; a full pipeline makes the poller wait; one broken source does not stop
the others.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from trustscope.cli.poll_cmd import poll
from trustscope.intake import Intake
from trustscope.platforms import PlatformRegistry
from trustscope.pollers import Poller, metrics, parse_config
from trustscope.pollers.process import run_pollers
from trustscope.pollers.state import StateStore
from trustscope.settings import Settings, get_settings

pytestmark = pytest.mark.integration

REPO_DIR = Path(__file__).resolve().parents[2]
FIXTURES = REPO_DIR / "tests" / "fixtures" / "pollers"
LAST_MODIFIED = "Tue, 24 Nov 2026 12:00:00 GMT"
EXPECTED = {"caixun": 4, "forum": 2, "complaints": 3}  # valid items in each fixture


class FeedServer:
    """http.server in a thread: routes of (body, content type), ETag/Last-Modified with 304s,
    injected 503s, and a log of every request's path and headers."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str, bool]] = {}
        self.fail_next: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if server.fail_next.get(path, 0) > 0:
                    server.fail_next[path] -= 1
                    self._reply(503, b"busy", "text/plain", {"Retry-After": "0"})
                    return
                if path not in server.routes:
                    self._reply(404, b"not found", "text/plain")
                    return
                body, ctype, validators = server.routes[path]
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED} if validators else {}
                if validators and self.headers.get("If-None-Match") == etag:
                    self._reply(304, b"", ctype, headers)
                    return
                self._reply(200, body, ctype, headers)

            def _reply(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, path: str, body: bytes, ctype: str, validators: bool = True) -> None:
        self.routes[path] = (body, ctype, validators)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p.split("?", 1)[0] == path]


@pytest.fixture()
def settings(redis_url: str, prefix: str) -> Settings:
    """Redis only: the pollers never touch Elasticsearch (overrides the package fixture)."""
    return Settings(redis_url=redis_url, stream_prefix=prefix, log_json=False, log_level="WARNING")


@pytest.fixture(autouse=True)
def platforms(settings: Settings, rclient: Any) -> None:
    """The default platform registry, as the ingest API and the poller process seed it at start."""
    PlatformRegistry(rclient, settings.stream_prefix).seed_defaults()


@pytest.fixture()
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    srv.serve("/rss.xml", (FIXTURES / "finance_news.rss.xml").read_bytes(), "application/rss+xml; charset=utf-8")
    srv.serve("/atom.xml", (FIXTURES / "lending_forum.atom.xml").read_bytes(), "application/atom+xml")
    srv.serve("/api/complaints", (FIXTURES / "complaints_api.json").read_bytes(), "application/json")
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def config_dict(url: str, **json_overrides: Any) -> dict[str, Any]:
    fast_retry = {"attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05}
    return {
        "defaults": {"interval_s": 60, "timeout_s": 5, "retry": fast_retry},
        "sources": [
            {"name": "caixun", "type": "feed", "url": f"{url}/rss.xml", "kind": "news"},
            {"name": "forum", "type": "feed", "url": f"{url}/atom.xml", "kind": "social"},
            {"name": "complaints", "type": "json", "url": f"{url}/api/complaints", "kind": "review",
             "items_path": "data.items", "html": True, "cursor_param": "since", "cursor_format": "epoch",
             "fields": {"source_id": "id", "text": ["content", "summary"], "title": "title",
                        "created_at": "published", "url": "link", "author.id": "user.id",
                        "author.name": "user.nickname", "rating": "stars"}, **json_overrides},
        ],
    }


def stream_docs(rclient: Any, bus: Any) -> list[dict[str, Any]]:
    return [orjson.loads(f[b"doc"]) for _, f in rclient.xrange(bus.key("ingest"))]


def by_source(results: list[Any]) -> dict[str, Any]:
    return {r.source: r for r in results}


def test_items_land_on_the_stream_exactly_once_across_polls(settings, rclient, bus, server):
    config = parse_config(config_dict(server.url))
    with Poller(config, rclient, settings) as poller:
        first = by_source(poller.run_once(force=True))
        second = by_source(poller.run_once(force=True))

    assert {s: r.outcome for s, r in first.items()} == {"caixun": "ok", "forum": "ok", "complaints": "ok"}
    assert {s: r.accepted for s, r in first.items()} == EXPECTED
    assert {s: r.skipped for s, r in first.items()} == {"caixun": 2, "forum": 1, "complaints": 2}
    docs = stream_docs(rclient, bus)
    assert len(docs) == sum(EXPECTED.values()) == len({d["id"] for d in docs})
    assert {d["source"] for d in docs} == set(EXPECTED)
    assert all("<" not in d["text"] for d in docs)  # HTML removed before intake
    texts = {d["source_id"]: d for d in docs}
    assert "huabei" in texts["caixun-20261121-002"]["platforms"]  # Intake's linker ran
    assert texts["88001"]["rating"] == 1 and texts["88001"]["kind"] == "review"

    # Second poll: every source answered 304 to the validators of the first; nothing new on the stream.
    assert {s: r.outcome for s, r in second.items()} == {s: "not_modified" for s in EXPECTED}
    assert len(stream_docs(rclient, bus)) == sum(EXPECTED.values())
    for path in ("/rss.xml", "/atom.xml", "/api/complaints"):
        first_hit, second_hit = server.hits(path)
        assert "if-none-match" not in first_hit
        assert second_hit["if-none-match"].startswith('"') and second_hit["if-modified-since"] == LAST_MODIFIED
    # The JSON cursor goes back as ?since=<newest - lookback> (epoch seconds).
    assert "since=" not in server.requests[0][0]
    assert any(p.startswith("/api/complaints?since=") for p, _ in server.requests)
    state = rclient.hgetall(f"{settings.stream_prefix}:poller:complaints")
    assert state[b"cursor"] == b"2026-11-25T14:00:00+00:00" and state[b"last_outcome"] == b"not_modified"


def test_only_new_and_edited_items_go_out_again(settings, rclient, bus, server):
    config = parse_config(config_dict(server.url))
    with Poller(config, rclient, settings) as poller:
        poller.run_once(force=True)
        rss = (FIXTURES / "finance_news.rss.xml").read_text("utf-8")
        new_item = ("<item><guid>caixun-20261126-006</guid><title>监管发布网络小贷新规</title>"
                    "<pubDate>Thu, 26 Nov 2026 08:00:00 +0800</pubDate>"
                    "<description>&lt;p&gt;新规要求平台披露综合年化成本。&lt;/p&gt;</description></item>")
        server.serve("/rss.xml", rss.replace("</channel>", new_item + "</channel>").encode(), "application/rss+xml")
        api = orjson.loads((FIXTURES / "complaints_api.json").read_bytes())
        api["data"]["items"][1]["summary"] = "补充：罚息已经全部退还，问题解决。"
        server.serve("/api/complaints", orjson.dumps(api), "application/json")
        third = by_source(poller.run_once(force=True))

    # Of the 4 items sent before: the one older than the cursor (23 Nov) minus the 2-day look-back is
    # "old", the 3 inside the window are recognised in the seen set; only the new item goes out.
    assert (third["caixun"].accepted, third["caixun"].seen, third["caixun"].old, third["caixun"].duplicates) \
        == (1, 3, 1, 0)
    assert (third["complaints"].updated, third["complaints"].seen) == (1, 2)
    assert third["forum"].outcome == "not_modified"
    docs = stream_docs(rclient, bus)
    assert len(docs) == sum(EXPECTED.values()) + 2  # one new item, one new version of an edited one
    assert [d["source_id"] for d in docs[-2:]] == ["caixun-20261126-006", "88002"] or \
        [d["source_id"] for d in docs[-2:]] == ["88002", "caixun-20261126-006"]
    edited = [d for d in docs if d["source_id"] == "88002"]
    assert edited[-1]["text"].startswith("补充") and edited[0]["id"] == edited[-1]["id"]  # same stable id


def test_restarts_and_replicas_do_not_resend(settings, rclient, bus, server):
    # No ETag/Last-Modified here: only the Redis state can stop a re-send.
    for path, (body, ctype, _) in list(server.routes.items()):
        server.serve(path, body, ctype, validators=False)
    config = parse_config(config_dict(server.url))

    def replica(out: list[Any]) -> None:
        with Poller(config, rclient, settings, Intake(rclient, settings)) as poller:
            out.extend(poller.run_once(force=True))

    outs: list[list[Any]] = [[], []]
    threads = [threading.Thread(target=replica, args=(o,)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    results = outs[0] + outs[1]
    assert sum(r.accepted for r in results) == sum(EXPECTED.values())
    assert sum(r.duplicates for r in results) == 0
    assert len(stream_docs(rclient, bus)) == sum(EXPECTED.values())

    restarted: list[Any] = []
    replica(restarted)  # a fresh process: new objects, same Redis
    # Nothing offered again: each item is either in the seen set or older than the cursor's window.
    assert {r.source: (r.outcome, r.accepted, r.duplicates, r.seen + r.old) for r in restarted} == \
        {s: ("ok", 0, 0, n) for s, n in EXPECTED.items()}
    assert len(stream_docs(rclient, bus)) == sum(EXPECTED.values())

    # Forgetting the poller state shows Intake's de-duplication is still the backstop.
    store = StateStore(rclient, settings.stream_prefix)
    for name in EXPECTED:
        store.reset(name)
    again: list[Any] = []
    replica(again)
    assert {r.source: (r.accepted, r.duplicates) for r in again} == {s: (0, n) for s, n in EXPECTED.items()}
    assert len(stream_docs(rclient, bus)) == sum(EXPECTED.values())


def test_transient_errors_are_retried_and_broken_sources_isolated(settings, rclient, bus, server):
    server.fail_next["/rss.xml"] = 2
    cfg = config_dict(server.url)
    cfg["sources"][1]["url"] = f"{server.url}/gone.xml"  # 404: not retried, reported, others go on
    retries_before = metrics.HTTP_RETRIES.labels("caixun")._value.get()
    with Poller(parse_config(cfg), rclient, settings) as poller:
        results = by_source(poller.run_once(force=True))
    assert results["caixun"].outcome == "ok" and results["caixun"].accepted == EXPECTED["caixun"]
    assert len(server.hits("/rss.xml")) == 3
    assert metrics.HTTP_RETRIES.labels("caixun")._value.get() - retries_before == 2
    assert results["forum"].outcome == "error" and "HTTP 404" in results["forum"].error
    assert len(server.hits("/gone.xml")) == 1
    assert results["complaints"].accepted == EXPECTED["complaints"]
    state = rclient.hgetall(f"{settings.stream_prefix}:poller:forum")
    assert state[b"last_outcome"] == b"error" and b"404" in state[b"last_error"]
    assert b"etag" not in state


def test_backpressure_makes_the_poller_wait(redis_url, prefix, rclient, bus, server):
    settings = Settings(redis_url=redis_url, stream_prefix=prefix, max_backlog=0, log_json=False)
    bus.publish("ingest", [{"doc": "{}", "op": "index"}])  # backlog 1 > limit 0
    config = parse_config({**config_dict(server.url), "sources": config_dict(server.url)["sources"][:1]})
    waits_before = metrics.BACKPRESSURE_WAITS.labels("caixun")._value.get()

    def drain() -> None:
        time.sleep(1.0)
        rclient.delete(bus.key("ingest"))  # the pipeline catches up

    drainer = threading.Thread(target=drain)
    drainer.start()
    started = time.monotonic()
    with Poller(config, rclient, settings) as poller:
        result = poller.run_once(force=True)[0]
    drainer.join()
    assert result.outcome == "ok" and result.accepted == EXPECTED["caixun"]
    assert time.monotonic() - started >= 1.0
    assert metrics.BACKPRESSURE_WAITS.labels("caixun")._value.get() > waits_before
    assert len(stream_docs(rclient, bus)) == EXPECTED["caixun"]


def test_replica_loops_share_the_schedule_and_stop(settings, rclient, bus, server):
    """Two replicas running the loop poll each source about once per interval between them, not twice."""
    cfg = config_dict(server.url)
    cfg["defaults"]["interval_s"] = 1
    config = parse_config(cfg)
    pollers = [Poller(config, rclient, settings, Intake(rclient, settings)) for _ in range(2)]
    threads = [threading.Thread(target=p.run, kwargs={"tick_s": 0.05}) for p in pollers]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(3.5)
    for p in pollers:
        p.stop_event.set()
    for t in threads:
        t.join(timeout=20)
    elapsed = time.monotonic() - started
    for p in pollers:
        p.close()
    assert not any(t.is_alive() for t in threads)
    hits = len(server.hits("/rss.xml"))
    assert 2 <= hits <= int(elapsed) + 2, hits  # one replica's worth (about 4), never both (about 8)
    assert len(stream_docs(rclient, bus)) == sum(EXPECTED.values())


def test_once_from_a_config_file_and_the_cli(settings, rclient, bus, server, tmp_path, monkeypatch):
    import yaml

    path = tmp_path / "pollers.yaml"
    path.write_text(yaml.safe_dump(config_dict(server.url), allow_unicode=True), "utf-8")
    results = run_pollers(str(path), once=True, settings=settings)
    assert sum(r.accepted for r in results) == sum(EXPECTED.values())

    monkeypatch.setenv("TS_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("TS_STREAM_PREFIX", settings.stream_prefix)
    monkeypatch.setenv("TS_LOG_LEVEL", "WARNING")
    # The command configures logging to the stderr it is given, which CliRunner closes afterwards;
    # keep the process-wide logging set-up out of it so later tests can still log.
    monkeypatch.setattr("trustscope.observability.configure_logging", lambda *a, **k: None)
    get_settings.cache_clear()
    app = typer.Typer()
    app.command()(poll)
    try:
        out = CliRunner().invoke(app, ["--config", str(path), "--once"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert "caixun: not_modified" in out.output and "complaints: not_modified" in out.output
    assert len(stream_docs(rclient, bus)) == sum(EXPECTED.values())
    bad = CliRunner().invoke(app, ["--config", str(tmp_path / "absent.yaml"), "--once"])
    assert bad.exit_code == 2


def test_service_process_polls_and_stops_on_sigterm(settings, rclient, bus, server, tmp_path):
    """``python -m services.ingest.poller`` as operators run it: a real process, stopped by SIGTERM."""
    import yaml

    path = tmp_path / "pollers.yaml"
    path.write_text(yaml.safe_dump(config_dict(server.url), allow_unicode=True), "utf-8")
    env = {**os.environ, "TS_REDIS_URL": settings.redis_url, "TS_STREAM_PREFIX": settings.stream_prefix,
           "TS_POLLERS_CONFIG": str(path), "TS_LOG_JSON": "true", "TS_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen([sys.executable, "-m", "services.ingest.poller"], cwd=REPO_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(stream_docs(rclient, bus)) < sum(EXPECTED.values()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    events = [orjson.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "poller.started" in events and "poller.stopped" in events
    assert len(stream_docs(rclient, bus)) == sum(EXPECTED.values())
