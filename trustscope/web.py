"""What every HTTP service shares: JSON errors, API-key roles, body limits, metrics and health.

Every error leaves as ``{"error": code, "message": text, ...}`` with a 4xx/5xx status, and validation
errors name each field and the reason, so a client can fix its request without reading our code.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustscope.auth import KeyRing, Principal

HTTP_REQUESTS = Counter("trustscope_http_requests_total", "HTTP requests", ["service", "route", "status"])
HTTP_LATENCY = Histogram("trustscope_http_request_seconds", "HTTP request latency", ["service", "route"])


class ApiError(HTTPException):
    """An error with a machine-readable code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code
        self.extra = extra


def validation_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    """Pydantic errors as ``[{"field": "author.id", "reason": "..."}]``."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "(body)", "reason": str(err.get("msg", "invalid"))})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        body = {"error": exc.code, "message": exc.detail, **exc.extra}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "message": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return JSONResponse({"error": "validation_error", "message": message, "errors": errors},
                            status_code=422)


def install_metrics(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, path, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, path).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def _metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def role_dependency(keyring_of: Callable[[Request], KeyRing], role: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency that admits only keys holding ``role`` (401 no/unknown key, 403 wrong role)."""

    def _require(request: Request) -> Principal:
        principal = keyring_of(request).lookup(presented_key(request))
        if principal is None:
            raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)",
                           headers={"WWW-Authenticate": "Bearer"})
        if not principal.has(role):
            raise ApiError(403, "forbidden", f"this key lacks the '{role}' role")
        return principal

    return _require


def check_content_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length is not None:
        try:
            size = int(length)
        except ValueError as exc:
            raise ApiError(400, "bad_request", "Content-Length is not a number") from exc
        if size > limit:
            raise ApiError(413, "payload_too_large", f"request body is {size} bytes; the limit is {limit}")


def readiness(redis_client: Any, es: Any) -> JSONResponse:
    """200 when Redis answers and Elasticsearch is yellow or green, else 503 naming what is not."""
    checks: dict[str, str] = {}
    try:
        redis_client.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = str(exc)
    try:
        health = es.cluster.health(timeout="2s")
        checks["elasticsearch"] = "ok" if health["status"] in ("green", "yellow") else health["status"]
    except Exception as exc:  # noqa: BLE001
        checks["elasticsearch"] = str(exc)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", **checks},
                        status_code=200 if ready else 503)
