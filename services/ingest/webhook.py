"""Pushed posts: an HMAC-signed webhook for sources that push instead of being polled.

A source signs each request with its own secret (``TS_WEBHOOK_SECRETS=source:secret,...``)::

    X-TrustScope-Source:    weibo-push
    X-TrustScope-Timestamp: 1764576000            (unix seconds)
    X-TrustScope-Nonce:     3f1c0f0e-...          (unique per request, 8-128 chars)
    X-TrustScope-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{nonce}." + body)>

Why each part: the timestamp bounds how long a captured request stays valid (``TS_WEBHOOK_WINDOW_S``),
the nonce — remembered in Redis for twice that window with ``SET NX`` — makes a request inside the
window usable once, and the digest is compared with ``hmac.compare_digest`` so timing reveals nothing.
The body is one document object or a JSON array of up to ``MAX_DOCUMENTS``; each document's
``source`` must be the signing source, so one source cannot write as another.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from trustscope.intake import Backpressure
from trustscope.observability import INGEST_DOCUMENTS, get_logger
from trustscope.schemas import DocumentIn
from trustscope.settings import Settings
from trustscope.web import ApiError, check_content_length, validation_errors

log = get_logger("trustscope.ingest.webhook")

SOURCE_HEADER = "x-trustscope-source"
TIMESTAMP_HEADER = "x-trustscope-timestamp"
NONCE_HEADER = "x-trustscope-nonce"
SIGNATURE_HEADER = "x-trustscope-signature"
MAX_DOCUMENTS = 500
MAX_BODY_BYTES = 4 * 1024 * 1024


def parse_secrets(spec: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for item in (s.strip() for s in spec.split(",")):
        if item:
            source, sep, secret = item.partition(":")
            if not sep or not source or not secret:
                raise ValueError("TS_WEBHOOK_SECRETS entries look like source:secret")
            out[source.strip().lower()] = secret.encode()
    return out


def sign(secret: bytes | str, timestamp: int | str, nonce: str, body: bytes) -> str:
    """The ``X-TrustScope-Signature`` value for a request (senders and tests use this)."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


@dataclass(frozen=True)
class Verifier:
    """Checks one request's signature, age and nonce; raises ``ApiError`` (401/409) otherwise."""

    secrets: dict[str, bytes]
    window_s: int
    nonce_prefix: str

    def verify(self, client: Any, headers: Any, body: bytes, now: float | None = None) -> str:
        source = (headers.get(SOURCE_HEADER) or "").strip().lower()
        ts_raw = headers.get(TIMESTAMP_HEADER) or ""
        nonce = headers.get(NONCE_HEADER) or ""
        presented = (headers.get(SIGNATURE_HEADER) or "").encode()
        missing = [h for h, v in ((SOURCE_HEADER, source), (TIMESTAMP_HEADER, ts_raw), (NONCE_HEADER, nonce),
                                  (SIGNATURE_HEADER, presented)) if not v]
        if missing:
            raise ApiError(401, "signature_missing", f"missing header(s): {', '.join(missing)}")
        if not 8 <= len(nonce) <= 128 or not nonce.isascii():
            raise ApiError(401, "bad_nonce", f"{NONCE_HEADER} must be 8-128 ASCII characters")
        try:
            ts = int(ts_raw)
        except ValueError as exc:
            raise ApiError(401, "bad_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds") from exc
        # Compute the digest even for an unknown source, so a source's existence does not show in timing.
        secret = self.secrets.get(source, b"\0" * 32)
        expected = sign(secret, ts_raw, nonce, body).encode()
        if not hmac.compare_digest(expected, presented) or source not in self.secrets:
            raise ApiError(401, "bad_signature", "the signature does not match the body")
        skew = (now if now is not None else time.time()) - ts
        if abs(skew) > self.window_s:
            raise ApiError(401, "expired", f"timestamp is {int(skew)} s off; the window is {self.window_s} s")
        key = f"{self.nonce_prefix}:{source}:{nonce}"
        if not client.set(key, b"1", nx=True, ex=2 * self.window_s):
            raise ApiError(409, "replayed", "this nonce was already used")
        return source


def _documents(body: bytes, source: str) -> list[DocumentIn]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_DOCUMENTS:
        raise ApiError(422, "validation_error", f"send 1-{MAX_DOCUMENTS} documents",
                       errors=[{"field": "(body)", "reason": f"{len(items)} documents"}])
    docs = []
    for n, item in enumerate(items):
        where = f"[{n}]." if isinstance(data, list) else ""
        if not isinstance(item, dict):
            raise ApiError(422, "validation_error", "each document must be a JSON object",
                           errors=[{"field": where + "(body)", "reason": "expected an object"}])
        item.setdefault("source", source)
        try:
            doc = DocumentIn.model_validate(item)
        except ValidationError as exc:
            errors = [{"field": where + e["field"], "reason": e["reason"]} for e in validation_errors(exc)]
            raise ApiError(422, "validation_error", "; ".join(f"{e['field']}: {e['reason']}" for e in errors),
                           errors=errors) from exc
        if doc.source.lower() != source:
            raise ApiError(403, "wrong_source", f"{where}source '{doc.source}' is not the signing source",
                           errors=[{"field": where + "source", "reason": "must be the signing source"}])
        docs.append(doc)
    return docs


def webhook_router(settings: Settings) -> APIRouter:
    """``POST /v1/webhook/posts`` for the ingest app."""
    router = APIRouter()
    verifier = Verifier(parse_secrets(settings.webhook_secrets.get_secret_value()), settings.webhook_window_s,
                        f"{settings.stream_prefix}:webhook:nonce")

    @router.post("/v1/webhook/posts", status_code=202, responses={
        401: {"description": "signature headers missing or malformed, bad signature, or timestamp outside the window"},
        403: {"description": "a document's source is not the signing source"},
        413: {"description": f"body over {MAX_BODY_BYTES} bytes"}})
    async def pushed_posts(request: Request) -> JSONResponse:
        """Signed pushed posts (see the module docstring for the signature scheme)."""
        check_content_length(request, MAX_BODY_BYTES)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", f"the limit is {MAX_BODY_BYTES} bytes")
        source = await run_in_threadpool(verifier.verify, request.app.state.redis, request.headers, body)
        docs = _documents(body, source)
        intake = request.app.state.intake
        try:
            intake.check_backpressure()
        except Backpressure as exc:
            raise ApiError(503, "backlog_full", f"{exc}; retry later",
                           headers={"Retry-After": str(exc.retry_after)}) from exc
        outcomes = await run_in_threadpool(intake.submit, docs)
        for o in outcomes:
            INGEST_DOCUMENTS.labels(o.status).inc()
        return JSONResponse({"source": source, "results": [
            {"id": o.id, "status": o.status, "platforms": o.platforms} for o in outcomes]}, status_code=202)

    return router
