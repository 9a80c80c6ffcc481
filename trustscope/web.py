"""What every HTTP service shares: JSON errors, request ids, API-key roles, body limits, metrics, health.

Every error leaves as ``{"error": code, "message": text, "request_id": id, ...}`` with a 4xx/5xx
status (docs/api-errors.md), 5xx included: an unexpected exception becomes a JSON 500 that names
only the request id, never the exception text, a host or a port; the traceback goes to the log
line carrying the same id. An unhandled Redis/Elasticsearch outage (``resilience.dependency_of``)
is a 503 ``unavailable`` with Retry-After instead: the request was fine, a dependency was not. Validation errors add ``"errors": [{"field", "reason"}]``, so a client
can fix its request without reading our code. Every response carries ``X-Request-ID`` (the
client's, when it sent a sane one, else a fresh one).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustscope.auth import KeyRing, Principal
from trustscope.intake import Backpressure, Unavailable
from trustscope.observability import get_logger
from trustscope.resilience import dependency_of

log = get_logger("trustscope.web")

HTTP_REQUESTS = Counter("trustscope_http_requests_total", "HTTP requests", ["service", "route", "status"])
HTTP_LATENCY = Histogram("trustscope_http_request_seconds", "HTTP request latency", ["service", "route"])

#: The request-id header: accepted from the client when sane, always set on the response.
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
request_id_var: ContextVar[str] = ContextVar("trustscope_request_id", default="-")
#: Retry-After of a 503 for an unhandled Redis/Elasticsearch outage (a handler may answer sooner).
DEPENDENCY_RETRY_AFTER_S = 5


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    """The one error shape of every TrustScope HTTP service (extra members per error code)."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str
    request_id: str
    errors: list[FieldError] | None = None


class ApiError(HTTPException):
    """An error with a machine-readable code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code
        self.extra = extra


def request_id_of(request: Request | None = None) -> str:
    if request is not None:
        rid = request.scope.get("state", {}).get("request_id")
        if rid:
            return str(rid)
    return request_id_var.get()


def error_response(request: Request | None, status: int, code: str, message: str,
                   headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    rid = request_id_of(request)
    body = {"error": code, "message": message, "request_id": rid, **extra}
    return JSONResponse(body, status_code=status, headers={**(headers or {}), REQUEST_ID_HEADER: rid})


def validation_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    """Pydantic errors as ``[{"field": "author.id", "reason": "..."}]``."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "(body)", "reason": str(err.get("msg", "invalid"))})
    return out


class RequestIdMiddleware:
    """Outermost guard: a request id for every request, and a JSON 500 for any unexpected error.

    Pure ASGI (not BaseHTTPMiddleware) so it sees exceptions from every layer inside it, and can
    still answer when nothing has been sent yet.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                presented = value.decode("latin-1")
                break
        rid = presented if _SANE_REQUEST_ID.match(presented) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        structlog.contextvars.bind_contextvars(request_id=rid)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: log it, answer JSON
            dependency = dependency_of(exc)
            if dependency is not None:  # an outage is not a bug: 503, one line, no traceback
                log.warning("http.dependency_unavailable", method=scope.get("method"), path=scope.get("path"),
                            dependency=dependency, error_type=type(exc).__name__)
            else:
                log.error("http.unhandled_error", method=scope.get("method"), path=scope.get("path"),
                          error_type=type(exc).__name__, exc_info=True)
            if started:
                raise
            if dependency is not None:
                body = {"error": "unavailable", "request_id": rid, "dependency": dependency,
                        "message": f"{dependency} is unavailable; retry later"}
                headers = {REQUEST_ID_HEADER: rid, "Retry-After": str(DEPENDENCY_RETRY_AFTER_S)}
                await JSONResponse(body, status_code=503, headers=headers)(scope, receive, send)
                return
            body = {"error": "internal_error", "request_id": rid,
                    "message": "an unexpected error occurred; quote the request id when reporting it"}
            await JSONResponse(body, status_code=500, headers={REQUEST_ID_HEADER: rid})(scope, receive, send)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)


def install_request_ids(app: FastAPI) -> None:
    """Make :class:`RequestIdMiddleware` the outermost middleware: call again after adding any
    middleware that answers by itself (a cache, CORS), so its answers and errors get an id too."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestIdMiddleware]
    app.add_middleware(RequestIdMiddleware)


def install_error_handlers(app: FastAPI) -> None:
    """JSON errors with a request id for every failure, and the error responses in the OpenAPI."""
    install_request_ids(app)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status_code, exc.code, str(exc.detail), exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return error_response(request, 422, "validation_error", message, errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _exc: Exception) -> JSONResponse:
        # Reached only from outside RequestIdMiddleware (an error in a middleware added later,
        # e.g. CORS): Starlette's ServerErrorMiddleware would otherwise answer plain text.
        return error_response(request, 500, "internal_error",
                              "an unexpected error occurred; quote the request id when reporting it")

    document_errors(app)


# --- OpenAPI: the error responses every operation can give ---------------------------------------
_ALWAYS = {"400": "bad request (a parameter or the body is malformed)",
           "404": "not found", "422": "validation error: `errors` names each field and the reason",
           "500": "unexpected error (JSON, with the request id)",
           "503": "a dependency is unavailable or the pipeline is full; see Retry-After"}
_SECURED = {"401": "no or unknown API key", "403": "the key lacks the required role",
            "429": "the key's rate limit (or the address's failed-key limit) is spent; see Retry-After"}
_OPTIONAL_AUTH = {"401": "an unknown, revoked or expired API key was presented",
                  "429": "the key's rate limit (or the address's failed-key limit) is spent; see Retry-After"}
_WITH_BODY = {"413": "request body over the size limit"}
_WRITES = {"409": "conflict with the current state (e.g. the resource already exists)"}


def _operations(app: FastAPI) -> Iterator[tuple[str, set[str], Any]]:
    """``(path, methods, dependant)`` of every API operation, those of included routers too (newer
    FastAPI keeps an included router as one lazy route whose contexts carry the effective
    path and dependencies, router-level ones included)."""
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            for ctx in route.effective_route_contexts():
                if isinstance(ctx.original_route, APIRoute):
                    yield ctx.path, set(ctx.methods or ()), ctx.dependant
        elif isinstance(route, APIRoute):
            yield route.path, set(route.methods or ()), route.dependant


def _roles_of(dependant: Any, marker: str = "trustscope_role") -> set[str]:
    """The ``marker`` attribute of every dependency in ``dependant`` (a role, or a flag)."""
    found: set[str] = set()
    stack = [dependant]
    while stack:
        dep = stack.pop()
        role = getattr(dep.call, marker, None)
        if role:
            found.add(str(role))
        stack.extend(dep.dependencies)
    return found


def openapi_models(app: FastAPI, *models: type[BaseModel]) -> None:
    """Put ``models`` in the OpenAPI components, for request bodies an endpoint reads itself
    (``openapi_extra`` refers to them as ``#/components/schemas/<Name>``)."""
    registered: list[type[BaseModel]] = getattr(app.state, "openapi_models", [])
    registered.extend(models)
    app.state.openapi_models = registered


def document_errors(app: FastAPI) -> None:
    """Add the shared error responses (and bearer security) to every operation of ``app.openapi()``.

    Lazy: routes are added after this runs, and the schema is built on first use.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas["ErrorBody"] = error_schema
        for model in getattr(app.state, "openapi_models", []):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(model_schema.pop("$defs", {}))
            schemas[model.__name__] = model_schema
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer", "description": "an API key (also accepted as X-API-Key)"}
        ops = list(_operations(app))
        secured = {(path, m.lower()) for path, methods, dep in ops if _roles_of(dep) for m in methods}
        optional = {(path, m.lower()) for path, methods, dep in ops
                    if _roles_of(dep, "trustscope_optional_auth") for m in methods}
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, item in schema.get("paths", {}).items():
            for method, op in item.items():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                codes = dict(_ALWAYS)
                if (path, method) in secured:
                    codes.update(_SECURED)
                    op["security"] = [{"bearer": []}]
                elif (path, method) in optional:
                    codes.update(_OPTIONAL_AUTH)
                    op["security"] = [{}, {"bearer": []}]
                if "requestBody" in op:
                    codes.update(_WITH_BODY)
                if method in ("post", "put", "patch", "delete"):
                    codes.update(_WRITES)
                for code, description in codes.items():
                    existing = op["responses"].get(code)
                    if existing is None or code == "422":  # FastAPI's default 422 is not our shape
                        op["responses"][code] = {"description": description, "content": error_ref}
                    elif "content" not in existing:
                        existing["content"] = error_ref
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_metrics(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            route = request.scope.get("route")
            HTTP_REQUESTS.labels(service, getattr(route, "path", "unmatched"), "500").inc()
            raise
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


def role_dependency(keyring_of: Callable[[Request], KeyRing], role: str,
                    *more: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency that admits only keys holding ``role`` (or one of ``more``): 401 no or
    unknown key, 403 wrong role. Returns the Principal."""
    roles = (role, *more)

    def _require(request: Request) -> Principal:
        principal = keyring_of(request).lookup(presented_key(request))
        if principal is None:
            raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)",
                           headers={"WWW-Authenticate": "Bearer"})
        if not any(principal.has(r) for r in roles):
            wanted = f"the '{role}' role" if not more else f"one of the roles {list(roles)}"
            raise ApiError(403, "forbidden", f"this key lacks {wanted}")
        return principal

    _require.trustscope_role = "|".join(roles)  # type: ignore[attr-defined]  # read by document_errors
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


class Readiness(BaseModel):
    """``GET /readyz`` of every service: names what is down, never how to reach it."""

    status: Literal["ready", "not_ready"]
    redis: Literal["ok", "degraded"]
    elasticsearch: Literal["ok", "degraded"]


#: ``responses=`` of a ``/readyz`` route.
READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Readiness}, 503: {"model": Readiness, "description": "not ready; see Retry-After"}}

@contextmanager
def intake_errors() -> Iterator[None]:
    """The intake's refusals as the documented 503s, for every service that publishes documents:
    back-pressure (``backlog_full``, with the backlog and stream) or Redis unreachable before
    anything was published (``unavailable``); both with Retry-After."""
    try:
        yield
    except Backpressure as exc:
        raise ApiError(503, "backlog_full", str(exc) + "; retry later",
                       headers={"Retry-After": str(exc.retry_after)}, backlog=exc.backlog,
                       stream=exc.stream) from exc
    except Unavailable as exc:
        raise ApiError(503, "unavailable", "the pipeline store is unavailable; nothing was published, "
                       "retry later", headers={"Retry-After": str(exc.retry_after)}) from exc


_last_readiness: dict[str, str] = {}


def readiness(redis_client: Any, es: Any) -> JSONResponse:
    """200 when Redis answers and Elasticsearch is yellow or green, else 503.

    The body says only ``ok`` or ``degraded`` per dependency: exception text names hosts and ports,
    so it goes to the log (one line per change of state), never to the public response.
    """
    checks: dict[str, str] = {}
    reasons: dict[str, str] = {}
    try:
        redis_client.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"], reasons["redis"] = "degraded", f"{type(exc).__name__}: {exc}"
    try:
        health = es.cluster.health(timeout="2s")
        status = health["status"]
        checks["elasticsearch"] = "ok" if status in ("green", "yellow") else "degraded"
        if status not in ("green", "yellow"):
            reasons["elasticsearch"] = f"cluster status {status}"
    except Exception as exc:  # noqa: BLE001
        checks["elasticsearch"], reasons["elasticsearch"] = "degraded", f"{type(exc).__name__}: {exc}"
    for name, state in checks.items():
        if _last_readiness.get(name) != state:
            _last_readiness[name] = state
            (log.warning if state != "ok" else log.info)("readiness.changed", dependency=name, state=state,
                                                         reason=reasons.get(name, "")[:300])
    ready = all(v == "ok" for v in checks.values())
    headers = None if ready else {"Retry-After": str(DEPENDENCY_RETRY_AFTER_S)}
    return JSONResponse({"status": "ready" if ready else "not_ready", **checks},
                        status_code=200 if ready else 503, headers=headers)
