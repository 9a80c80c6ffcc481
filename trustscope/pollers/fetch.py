"""One HTTP GET of a source: conditional, bounded in time and size, retried when the failure is transient.

Conditional GET (If-None-Match / If-Modified-Since) lets an unchanged feed cost one 304 and no
parsing. Transient failures (connection errors, timeouts, 429, 5xx) are retried with exponential
backoff and jitter via tenacity, honouring Retry-After when the server sends one; anything else
(404, 401, a body over ``max_bytes``) fails at once, since asking again will not help.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
    wait_random,
)

from trustscope import __version__
from trustscope.pollers.config import FeedSource, JsonSource

USER_AGENT = f"TrustScope-poller/{__version__} (+https://github.com/trustscope)"
ACCEPT = {
    "feed": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    "json": "application/json, */*;q=0.5",
}


class FetchError(Exception):
    """A failure that retrying will not fix (or that is still there after the last retry)."""


class TransientHTTPError(Exception):
    """A status worth retrying (429, 5xx), with the server's Retry-After in seconds if any."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int  # 200 or 304
    content: bytes
    etag: str | None
    last_modified: str | None
    attempts: int

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _get_once(client: httpx.Client, cfg: FeedSource | JsonSource, headers: Mapping[str, str],
              params: Mapping[str, Any]) -> tuple[int, bytes, httpx.Headers]:
    with client.stream("GET", str(cfg.url), params=dict(params), headers=dict(headers),
                       timeout=httpx.Timeout(cfg.timeout_s)) as response:
        status = response.status_code
        if status == 304:
            return status, b"", response.headers
        if status == 429 or status >= 500:
            raise TransientHTTPError(status, _retry_after(response.headers.get("retry-after")))
        if status >= 400:
            raise FetchError(f"HTTP {status} from {cfg.url}")
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > cfg.max_bytes:
            raise FetchError(f"response of {length} bytes exceeds max_bytes={cfg.max_bytes}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cfg.max_bytes:
                raise FetchError(f"response exceeds max_bytes={cfg.max_bytes}")
            chunks.append(chunk)
        return status, b"".join(chunks), response.headers


def fetch(client: httpx.Client, cfg: FeedSource | JsonSource, *, etag: str | None = None,
          last_modified: str | None = None, extra_params: Mapping[str, Any] | None = None,
          stop_event: threading.Event | None = None,
          on_retry: Callable[[BaseException, float], None] | None = None) -> FetchResult:
    """GET the source, conditionally when validators from the last poll are given."""
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT[cfg.type], **cfg.headers}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    params = {**cfg.params, **(extra_params or {})}
    # Exponential from backoff_s, plus up to backoff_s of jitter so replicas do not retry in step.
    backoff = wait_exponential(multiplier=cfg.retry.backoff_s, max=cfg.retry.max_backoff_s) \
        + wait_random(0, cfg.retry.backoff_s)
    stop_event = stop_event or threading.Event()

    def wait(state: RetryCallState) -> float:
        seconds = backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientHTTPError) and exc.retry_after is not None:
            seconds = max(seconds, min(exc.retry_after, cfg.retry.max_backoff_s))
        return seconds

    def before_sleep(state: RetryCallState) -> None:
        if on_retry and state.outcome and state.next_action:
            on_retry(state.outcome.exception(), state.next_action.sleep)  # type: ignore[arg-type]

    retrying = Retrying(
        stop=stop_after_attempt(cfg.retry.attempts) | stop_when_event_set(stop_event),
        wait=wait,
        retry=retry_if_exception_type((httpx.TransportError, TransientHTTPError)),
        sleep=stop_event.wait,  # a shutdown interrupts the backoff instead of sitting it out
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                status, content, resp_headers = _get_once(client, cfg, headers, params)
    except TransientHTTPError as exc:
        raise FetchError(f"{exc} from {cfg.url} after {cfg.retry.attempts} attempt(s)") from exc
    except httpx.TransportError as exc:
        raise FetchError(f"{type(exc).__name__} for {cfg.url}: {exc}") from exc
    return FetchResult(status, content, resp_headers.get("etag"), resp_headers.get("last-modified"),
                       attempt.retry_state.attempt_number)


def http_client() -> httpx.Client:
    """One pooled client for all sources; timeouts are set per request from each source's config."""
    return httpx.Client(follow_redirects=True, limits=httpx.Limits(max_connections=32))
