"""Ingest HTTP API: one document or an NDJSON batch in, onto the pipeline's first stream.

Run: ``uvicorn services.ingest.app:app --port 8001``. Every write endpoint needs a key (from
``TS_API_KEYS`` or the Redis key store) with the ``ingest`` role, or a ``platform`` key, which may
submit only reviews of its own platforms (``source`` becomes ``platform:<id>``, as on the gateway). A 202 means the document will be searchable: validation matches the index
mapping (trustscope/schemas.py). When the largest backlog of any stage passes ``TS_MAX_BACKLOG``,
or Redis cannot be reached, the API answers 503 with Retry-After. Errors: docs/api-errors.md.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, Literal

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from services.ingest.webhook import webhook_router
from trustscope import __version__
from trustscope.auth import INGEST, PLATFORM, KeyRing, Principal
from trustscope.es import make_client
from trustscope.intake import Intake, LinesResult, redis_client
from trustscope.observability import INGEST_DOCUMENTS, configure_logging, get_logger
from trustscope.platforms import PlatformRegistry
from trustscope.schemas import DocumentIn, Kind
from trustscope.settings import Settings, get_settings
from trustscope.web import (
    READINESS_RESPONSES,
    ApiError,
    check_content_length,
    install_error_handlers,
    intake_errors,
    install_metrics,
    openapi_models,
    readiness,
    role_dependency,
    validation_errors,
)

log = get_logger("trustscope.ingest")
NDJSON = "application/x-ndjson"


# --- response bodies (documented in the OpenAPI) -------------------------------------------------
class DocumentAccepted(BaseModel):
    id: str = Field(..., description="the document id (stable for the same source and source_id)")
    status: Literal["accepted", "updated", "duplicate"]
    platforms: list[str]


class LineError(BaseModel):
    line: int = Field(..., description="1-based line number in the request body")
    reason: str
    errors: list[dict[str, str]] | None = Field(None, description="[{field, reason}] for validation errors")
    retry: bool = Field(False, description="true: the line was valid but not published; resend it")


class LineResult(BaseModel):
    line: int
    id: str
    status: Literal["accepted", "updated", "duplicate"]


class BatchSummary(BaseModel):
    lines: int = Field(..., description="lines read, blank ones included")
    accepted: int
    updated: int
    duplicates: int
    rejected: int = Field(..., description="lines refused for their content (see errors)")
    unpublished: int = Field(..., description="valid lines not published (Redis went away): resend them")
    results: list[LineResult] = Field(..., description="every published line, in order")
    errors: list[LineError] = Field(..., description="every line not published, in order")
    ids: list[str] = Field(..., description="ids of the published lines, in order (same as results)")


def _document_body() -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/DocumentIn"}}}}


def _batch_body() -> dict[str, Any]:
    return {"required": True, "description": "NDJSON: one DocumentIn JSON object per line (the array "
                                             "items below, each serialised on its own line)",
            "content": {NDJSON: {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/DocumentIn"}}}}}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        configure_logging(settings.log_level, settings.log_json)
        client = redis_client(settings)
        registry = PlatformRegistry(client, settings.stream_prefix)
        try:
            registry.seed_defaults()
        except Exception as exc:  # noqa: BLE001 - Redis may come up later; readiness reports it
            log.warning("ingest.seed_failed", error_type=type(exc).__name__)
        app.state.redis = client
        app.state.es = make_client(settings)
        app.state.intake = Intake(client, settings, registry)
        app.state.keyring = KeyRing.from_settings(settings, client)
        if not len(app.state.keyring):
            log.info("ingest.no_bootstrap_keys", hint="only keys in the Redis key store are accepted")
        log.info("ingest.started", version=__version__)
        yield
        app.state.es.close()
        client.close()

    app = FastAPI(title="TrustScope ingest", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    install_metrics(app, "ingest")
    openapi_models(app, DocumentIn)
    app.include_router(webhook_router(settings))  # signed pushed posts, no API key
    require_writer = role_dependency(lambda r: r.app.state.keyring, INGEST, PLATFORM)

    def intake_of(request: Request) -> Intake:
        return request.app.state.intake  # type: ignore[no-any-return]

    async def read_body(request: Request) -> bytes:
        """The whole body, refused with 413 (before anything is published) once over the limit."""
        check_content_length(request, settings.max_body_bytes)
        chunks: list[bytes] = []
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > settings.max_body_bytes:
                raise ApiError(413, "payload_too_large", f"request body is over the limit of "
                               f"{settings.max_body_bytes} bytes; nothing was published")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "ingest", "version": __version__}

    @app.get("/readyz", responses=READINESS_RESPONSES)
    def readyz(request: Request) -> JSONResponse:
        """Ready when Redis and Elasticsearch answer (without ES the pipeline only backs up)."""
        return readiness(request.app.state.redis, request.app.state.es)

    @app.post("/v1/documents", status_code=202,
              openapi_extra={"requestBody": _document_body()},
              responses={202: {"model": DocumentAccepted, "description": "published: it will be searchable"},
                         200: {"model": DocumentAccepted, "description": "an unchanged duplicate"}})
    async def post_document(request: Request, principal: Principal = Depends(require_writer)) -> JSONResponse:
        """One review, news item or post (JSON). 202 with its id and whether it was new."""
        body = await read_body(request)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(422, "validation_error", "body must be a JSON object",
                           errors=[{"field": "(body)", "reason": "expected an object"}])
        try:
            item = DocumentIn.model_validate(data)
        except ValidationError as exc:
            errors = validation_errors(exc)
            INGEST_DOCUMENTS.labels("rejected").inc()
            raise ApiError(422, "validation_error",
                           "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors=errors) from exc
        item = for_principal(principal, item)
        intake = intake_of(request)
        with intake_errors():
            await run_in_threadpool(intake.check_backpressure)
            outcome = (await run_in_threadpool(intake.submit, [item]))[0]
        INGEST_DOCUMENTS.labels(outcome.status).inc()
        status = 202 if outcome.status != "duplicate" else 200
        return JSONResponse({"id": outcome.id, "status": outcome.status, "platforms": outcome.platforms},
                            status_code=status)

    @app.post("/v1/documents/batch",
              openapi_extra={"requestBody": _batch_body()},
              responses={200: {"model": BatchSummary, "description": "every line's fate"}})
    async def post_batch(request: Request, principal: Principal = Depends(require_writer)) -> JSONResponse:
        """NDJSON, one document per line. Every line is validated before any is published; each is
        then published or reported with its line number and reason (``results`` and ``errors``
        together name every non-blank line). A body over the size or line limit is refused whole
        (413) and nothing is published."""
        intake = intake_of(request)
        with intake_errors():
            await run_in_threadpool(intake.check_backpressure)
        body = await read_body(request)
        lines, valid, errors = await run_in_threadpool(parse_lines, body, settings.max_batch_lines)
        valid = [(line, for_principal(principal, item, line)) for line, item in valid]
        with intake_errors():
            published: LinesResult = await run_in_threadpool(intake.submit_lines, valid)
        summary = summarise(lines, published, errors)
        headers = {"Retry-After": str(settings.retry_after_s)} if summary["unpublished"] else None
        return JSONResponse(summary, headers=headers)

    return app


def for_principal(principal: Principal, item: DocumentIn, line: int | None = None) -> DocumentIn:
    """What ``principal`` may publish of ``item``: a pipeline client (``ingest``) anything; a
    ``platform`` key only reviews naming its own platforms, marked as self-reported. 403 otherwise
    (for a batch before anything is published, naming the line)."""
    if principal.has(INGEST):
        return item
    where = f"line {line}: " if line is not None else ""
    if item.kind is not Kind.review:
        raise ApiError(403, "forbidden", f"{where}a platform key may submit only reviews", field="kind",
                       **({"line": line} if line is not None else {}))
    foreign = [p for p in item.platforms if not principal.may_access_platform(p)]
    if not item.platforms or foreign:
        reason = f"not for platform(s) {foreign}" if foreign else "name its platform in platforms"
        raise ApiError(403, "forbidden", f"{where}this key may submit reviews only of its own platforms "
                       f"({reason})", field="platforms", **({"line": line} if line is not None else {}))
    return item.model_copy(update={"source": f"platform:{item.platforms[0]}"})


def parse_lines(body: bytes, max_lines: int) -> tuple[int, list[tuple[int, DocumentIn]], list[dict[str, Any]]]:
    """(lines read, valid numbered documents, errors of the others); 413 beyond ``max_lines``."""
    raw_lines = body.split(b"\n")
    if raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()  # the trailing newline does not start a line
    documents = sum(1 for raw in raw_lines if raw.strip())
    if documents > max_lines:
        raise ApiError(413, "too_many_lines", f"batch has {documents} documents; the limit is {max_lines} "
                       "per request; nothing was published")
    valid: list[tuple[int, DocumentIn]] = []
    errors: list[dict[str, Any]] = []
    for line_no, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue  # blank lines are not documents
        try:
            item, error = validate_line(raw)
        except Exception as exc:  # noqa: BLE001 - a validator bug must not sink the other lines
            log.error("ingest.line_failed", line=line_no, error_type=type(exc).__name__, exc_info=True)
            item, error = None, {"reason": "internal error while validating this line"}
        if item is not None:
            valid.append((line_no, item))
        else:
            errors.append({"line": line_no, **(error or {"reason": "invalid"})})
    return len(raw_lines), valid, errors


def validate_line(raw: bytes) -> tuple[DocumentIn | None, dict[str, Any] | None]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, {"reason": f"invalid JSON: {exc}"}
    if not isinstance(data, dict):
        return None, {"reason": "each line must be a JSON object"}
    try:
        return DocumentIn.model_validate(data), None
    except ValidationError as exc:
        errors = validation_errors(exc)
        return None, {"reason": "; ".join(f"{e['field']}: {e['reason']}" for e in errors), "errors": errors}


def summarise(lines: int, published: LinesResult, invalid: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {"accepted": 0, "updated": 0, "duplicate": 0}
    results = []
    for line, outcome in published.published:
        counts[outcome.status] += 1
        INGEST_DOCUMENTS.labels(outcome.status).inc()
        results.append({"line": line, "id": outcome.id, "status": outcome.status})
    errors = list(invalid) + [{"line": f.line, "reason": f.reason, "retry": f.retry} for f in published.failed]
    errors.sort(key=lambda e: e["line"])
    unpublished = sum(1 for f in published.failed if f.retry)
    rejected = len(errors) - unpublished
    if rejected:
        INGEST_DOCUMENTS.labels("rejected").inc(rejected)
    return {"lines": lines, "accepted": counts["accepted"], "updated": counts["updated"],
            "duplicates": counts["duplicate"], "rejected": rejected, "unpublished": unpublished,
            "results": results, "errors": errors, "ids": [r["id"] for r in results]}


app = create_app()
