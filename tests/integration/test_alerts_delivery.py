"""Delivery to subscriptions against local HTTP receivers over real sockets and a real Redis:
retries with backoff against a receiver that fails at first, the generic webhook's signature,
DingTalk/Feishu signed modes and WeCom's format, a digest, and a slow subscriber that does not
delay another."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from tests.integration.helpers import wait_until
from trustscope.alerts.channels import webhook_signature
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.delivery import Dispatcher
from trustscope.alerts.models import Alert, AlertEvent
from trustscope.alerts.store import AlertStore
from trustscope.alerts.subscriptions import SubscriptionIn, SubscriptionStore

pytestmark = pytest.mark.integration
SECRET = "0123456789abcdef-secret"


class Receiver:
    """A local HTTP endpoint: records requests; ``fail_first`` 503s, ``delay_s`` per request."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0, reply: bytes = b'{"errcode":0,"code":0}') -> None:
        self.requests: list[dict] = []
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls += 1
                if outer.calls <= fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                time.sleep(delay_s)
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                       "at": time.monotonic()})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _alert(n: int, platform: str = "jiebei") -> Alert:
    now = datetime.now(timezone.utc)
    return Alert(id=f"al{n}", story_id=f"al{n}", platform=platform, kind="rumour", severity=55.0, level="high",
                 headline=f"听说借呗跑路了 {n}", headline_id=f"p{n}", terms=["跑路"], volume=10, reposts=3, authors=8,
                 velocity_per_min=2.0, rumour_prob=0.9, negative_share=0.8, surprise=6.0,
                 baseline_per_window=0.01, first_seen=now, last_seen=now, opened_at=now, updated_at=now)


def _emit(store: AlertStore, n: int, **kw) -> None:
    alert = _alert(n, **kw)
    store.save(alert, AlertEvent(type="alert.opened", alert=alert, notify=True, at=alert.opened_at))


@pytest.fixture()
def dispatcher(settings, rclient):
    settings = settings.model_copy(update={"delivery_timeout_s": 1.0, "delivery_max_attempts": 4})
    cfg = AlertConfig.from_settings(settings)
    d = Dispatcher(settings, cfg, backoff_s=0.1, poll_s=0.05, reload_s=0.2, minute_s=2.0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(d.run(),), daemon=True)
    subs = SubscriptionStore(rclient, cfg)
    store = AlertStore(rclient, cfg)
    started = {"t": False}

    def start() -> None:
        thread.start()
        started["t"] = True
        time.sleep(0.5)  # the dispatcher fixes its cursor and loads the subscriptions

    yield start, subs, store
    if started["t"]:
        loop.call_soon_threadsafe(d.stop.set)
        thread.join(timeout=15)


def by_path_of(receiver: Receiver, path: str) -> list[dict]:
    return [r for r in receiver.requests if urllib.parse.urlparse(r["path"]).path == path]


def _sub(subs: SubscriptionStore, name: str, channel: dict, **kw) -> str:
    return subs.create(SubscriptionIn.model_validate({"name": name, "channel": channel, **kw}), "test").id


def test_retries_with_backoff_then_delivered_and_signed(dispatcher):
    start, subs, store = dispatcher
    flaky = Receiver(fail_first=2)
    try:
        sid = _sub(subs, "flaky", {"type": "webhook", "url": flaky.url + "/hook", "secret": SECRET})
        other = _sub(subs, "not mine", {"type": "webhook", "url": flaky.url + "/other", "secret": SECRET},
                     watchlist={"platforms": ["alipay"]})
        start()
        _emit(store, 1)
        wait_until(lambda: subs.deliveries(sid), timeout=20)
        log = subs.deliveries(sid)[0]
        assert log["status"] == "delivered" and log["attempts"] == 3 and log["alert_ids"] == ["al1"]
        assert flaky.calls == 3 and len(flaky.requests) == 1
        req = flaky.requests[0]
        ts = req["headers"]["X-TrustScope-Timestamp"]
        assert req["headers"]["X-TrustScope-Signature"] == webhook_signature(SECRET, ts, req["body"])
        assert abs(int(ts) - time.time()) < 30
        assert orjson.loads(req["body"])["events"][0]["alert"]["id"] == "al1"
        assert subs.deliveries(other) == []  # watchlist: another platform
    finally:
        flaky.close()


def test_failing_endpoint_is_logged_as_failed_after_the_attempts(dispatcher):
    start, subs, store = dispatcher
    dead = Receiver(fail_first=100)
    try:
        sid = _sub(subs, "dead", {"type": "webhook", "url": dead.url, "secret": SECRET})
        start()
        _emit(store, 2)
        wait_until(lambda: subs.deliveries(sid), timeout=20)
        log = subs.deliveries(sid)[0]
        assert log["status"] == "failed" and log["attempts"] == 4 and "503" in log["error"]
    finally:
        dead.close()


def test_slow_subscriber_does_not_delay_another(dispatcher):
    start, subs, store = dispatcher
    slow, fast = Receiver(delay_s=3.0), Receiver()
    try:
        slow_id = _sub(subs, "slow", {"type": "webhook", "url": slow.url, "secret": SECRET})
        fast_id = _sub(subs, "fast", {"type": "webhook", "url": fast.url, "secret": SECRET})
        start()
        t0 = time.monotonic()
        for n in range(3):
            _emit(store, 10 + n)
        wait_until(lambda: len(subs.deliveries(fast_id)) == 3, timeout=10)
        fast_done = time.monotonic() - t0
        # the fast one got all three while the slow one (each attempt times out at 1 s) has none delivered
        assert fast_done < 2.5, fast_done
        assert all(d["status"] == "delivered" for d in subs.deliveries(fast_id))
        assert not [d for d in subs.deliveries(slow_id) if d["status"] == "delivered"]
    finally:
        slow.close()
        fast.close()


def test_dingtalk_feishu_wecom_formats_and_a_digest(dispatcher):
    start, subs, store = dispatcher
    bots = Receiver()
    try:
        ding = _sub(subs, "ding", {"type": "dingtalk", "url": bots.url + "/robot/send?access_token=t",
                                   "secret": "SECding"})
        fei = _sub(subs, "feishu", {"type": "feishu", "url": bots.url + "/open-apis/bot/v2/hook/h",
                                    "secret": "fs-secret"})
        wec = _sub(subs, "wecom", {"type": "wecom", "url": bots.url + "/cgi-bin/webhook/send?key=k"})
        dig = _sub(subs, "digest", {"type": "webhook", "url": bots.url + "/digest", "secret": SECRET},
                   schedule={"mode": "digest", "every_minutes": 1})
        start()
        _emit(store, 20)
        _emit(store, 21)
        wait_until(lambda: all(len(subs.deliveries(s)) == 2 for s in (ding, fei, wec)), timeout=20)
        by_path = {}
        for r in bots.requests:
            by_path.setdefault(urllib.parse.urlparse(r["path"]).path, []).append(r)
        d = by_path["/robot/send"][0]
        q = urllib.parse.parse_qs(urllib.parse.urlparse(d["path"]).query)
        mac = hmac.new(b"SECding", f"{q['timestamp'][0]}\nSECding".encode(), hashlib.sha256).digest()
        assert q["sign"][0] == base64.b64encode(mac).decode()
        assert orjson.loads(d["body"])["msgtype"] == "markdown"
        f = orjson.loads(by_path["/open-apis/bot/v2/hook/h"][0]["body"])
        mac = hmac.new(f"{f['timestamp']}\nfs-secret".encode(), b"", hashlib.sha256).digest()
        assert f["sign"] == base64.b64encode(mac).decode() and f["msg_type"] == "text"
        assert "借呗" in orjson.loads(by_path["/cgi-bin/webhook/send"][0]["body"])["markdown"]["content"]
        assert subs.deliveries(dig) == []  # the digest waits for its period ("minute" = 2 s here)
        assert store.client.llen(subs.cfg.digest_key(dig)) == 2
        wait_until(lambda: subs.deliveries(dig), timeout=10)
        digest = orjson.loads(by_path_of(bots, "/digest")[0]["body"])
        assert digest["digest"] is True and [e["alert"]["id"] for e in digest["events"]] == ["al20", "al21"]
        assert subs.deliveries(dig)[0]["digest"] and store.client.llen(subs.cfg.digest_key(dig)) == 0
    finally:
        bots.close()


def test_email_over_smtp_to_a_local_server(settings, rclient):
    """The e-mail channel speaks SMTP to a local server (a real socket; no TLS on loopback)."""
    import socketserver

    received: list[bytes] = []

    class Smtp(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 test ESMTP\r\n")
            data = False
            lines: list[bytes] = []
            for raw in self.rfile:
                if data:
                    if raw == b".\r\n":
                        received.append(b"".join(lines))
                        data = False
                        self.wfile.write(b"250 queued\r\n")
                    else:
                        lines.append(raw)
                    continue
                verb = raw[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    self.wfile.write(b"250 test\r\n")
                elif verb == b"DATA":
                    data = True
                    self.wfile.write(b"354 go on\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Smtp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": server.server_address[1],
                                        "smtp_starttls": False, "smtp_from": "alerts@trustscope.test"})
        from trustscope.alerts.channels import send
        from trustscope.alerts.subscriptions import EmailChannel

        alert = _alert(30)
        event = AlertEvent(type="alert.opened", alert=alert, notify=True, at=alert.opened_at)
        asyncio.run(send(EmailChannel(type="email", to=["risk@example.com"]), [event], None, s, "dl_x"))  # type: ignore[arg-type]
        assert received, "no message reached the SMTP server"
        message = received[0].decode("utf-8", "replace")
        assert "Subject: TrustScope high rumour alert: jiebei" in message and "To: risk@example.com" in message
    finally:
        server.shutdown()
        server.server_close()
