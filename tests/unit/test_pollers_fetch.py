"""HTTP fetching against httpx.MockTransport: conditional GET, retries of transient failures only, size limit."""

import threading

import httpx
import pytest

from trustscope.pollers.config import parse_config
from trustscope.pollers.fetch import FetchError, fetch


def source(**overrides):
    src = {"name": "s", "type": "feed", "url": "http://feed.test.invalid/rss", "max_bytes": 1000,
           "retry": {"attempts": 3, "backoff_s": 0.001, "max_backoff_s": 0.01}, **overrides}
    return parse_config({"sources": [src]}).sources[0]


def client_with(handler):
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_conditional_get_sends_validators_and_reads_304():
    seen = []

    def handler(request):
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=b"<rss/>", headers={"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 09:00:00 GMT"})

    with client_with(handler) as client:
        first = fetch(client, source(headers={"X-Token": "t"}, params={"lang": "zh"}))
        assert first.status == 200 and first.content == b"<rss/>" and first.etag == '"v1"'
        second = fetch(client, source(), etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.content == b""
    assert seen[0].headers["x-token"] == "t" and seen[0].url.params["lang"] == "zh"
    assert "TrustScope-poller" in seen[0].headers["user-agent"]
    assert seen[1].headers["if-modified-since"] == "Mon, 23 Nov 2026 09:00:00 GMT"


def test_transient_failures_are_retried_with_retry_after():
    calls, retries = [], []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            return httpx.Response(503, headers={"Retry-After": "0"})
        return httpx.Response(200, content=b"ok")

    with client_with(handler) as client:
        result = fetch(client, source(), on_retry=lambda exc, s: retries.append(type(exc).__name__))
    assert result.content == b"ok" and result.attempts == 3
    assert retries == ["ConnectError", "TransientHTTPError"]


def test_retries_give_up_after_the_last_attempt():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(429)

    with client_with(handler) as client, pytest.raises(FetchError, match="HTTP 429 .* after 3 attempt"):
        fetch(client, source())
    assert len(calls) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_client_errors_are_not_retried(status):
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(status)

    with client_with(handler) as client, pytest.raises(FetchError, match=f"HTTP {status}"):
        fetch(client, source())
    assert len(calls) == 1


def test_oversized_bodies_are_refused():
    with client_with(lambda r: httpx.Response(200, content=b"x" * 2000)) as client, \
            pytest.raises(FetchError, match="max_bytes=1000"):
        fetch(client, source())


def test_stop_event_cuts_retries_short():
    stop = threading.Event()
    calls = []

    def handler(request):
        calls.append(request)
        stop.set()  # shutdown requested while the first attempt was running
        return httpx.Response(502)

    with client_with(handler) as client, pytest.raises(FetchError):
        fetch(client, source(retry={"attempts": 5, "backoff_s": 30}), stop_event=stop)
    assert len(calls) == 1
