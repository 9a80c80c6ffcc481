"""Gateway error handling beyond ``trustscope.web``: a request id on every response and log line,
503 JSON with Retry-After when Elasticsearch or Redis is unreachable, and a JSON 500 for anything
unexpected (never a plain-text traceback page)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import elasticsearch
import redis
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from trustscope.observability import get_logger

log = get_logger("trustscope.gateway")
RETRY_AFTER_S = 5
REQUEST_ID = "X-Request-ID"


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "") or "-"


def _unavailable(request: Request, what: str, exc: Exception) -> JSONResponse:
    rid = _request_id(request)
    log.warning("gateway.dependency_unavailable", dependency=what, path=request.url.path,
                error=type(exc).__name__, request_id=rid)
    return JSONResponse({"error": "unavailable", "message": f"{what} is unavailable; retry later",
                         "request_id": rid}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_S), REQUEST_ID: rid})


def install_gateway_errors(app: FastAPI) -> None:
    @app.middleware("http")
    async def _request_ids(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        incoming = request.headers.get(REQUEST_ID, "")
        rid = incoming if 8 <= len(incoming) <= 64 and incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        request.state.request_id = rid
        with structlog.contextvars.bound_contextvars(request_id=rid):
            response = await call_next(request)
        response.headers[REQUEST_ID] = rid
        return response

    @app.exception_handler(elasticsearch.ConnectionError)
    async def _es_down(request: Request, exc: elasticsearch.ConnectionError) -> JSONResponse:
        return _unavailable(request, "search backend", exc)

    @app.exception_handler(elasticsearch.ConnectionTimeout)
    async def _es_slow(request: Request, exc: elasticsearch.ConnectionTimeout) -> JSONResponse:
        return _unavailable(request, "search backend", exc)

    @app.exception_handler(elasticsearch.ApiError)
    async def _es_error(request: Request, exc: elasticsearch.ApiError) -> JSONResponse:
        if exc.meta.status in (429, 502, 503, 504):
            return _unavailable(request, "search backend", exc)
        if exc.meta.status == 400:
            rid = _request_id(request)
            log.info("gateway.query_rejected", path=request.url.path, error=str(exc)[:300], request_id=rid)
            return JSONResponse({"error": "bad_query", "message": "the search backend rejected this query; "
                                 "check the parameters", "request_id": rid}, status_code=400)
        return await _internal(request, exc)

    @app.exception_handler(redis.ConnectionError)
    async def _redis_down(request: Request, exc: redis.ConnectionError) -> JSONResponse:
        return _unavailable(request, "key-value store", exc)

    @app.exception_handler(redis.TimeoutError)
    async def _redis_slow(request: Request, exc: redis.TimeoutError) -> JSONResponse:
        return _unavailable(request, "key-value store", exc)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        rid = _request_id(request)
        log.error("gateway.internal_error", path=request.url.path, error=type(exc).__name__,
                  request_id=rid, exc_info=exc)
        return JSONResponse({"error": "internal_error", "message": "an unexpected error occurred",
                             "request_id": rid}, status_code=500, headers={REQUEST_ID: rid})
