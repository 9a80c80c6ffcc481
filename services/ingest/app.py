"""Ingest HTTP API: one document or an NDJSON batch in, onto the pipeline's first stream.

Run: ``uvicorn services.ingest.app:app --port 8001``. Every write endpoint needs a key with the
``ingest`` role. When the pipeline's backlog passes ``TS_MAX_BACKLOG`` the API answers 503 with
Retry-After instead of letting Redis grow without bound.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.ingest.webhook import webhook_router
from trustscope import __version__
from trustscope.auth import KeyRing
from trustscope.es import make_client
from trustscope.intake import Backpressure, Intake, redis_client
from trustscope.observability import INGEST_DOCUMENTS, configure_logging, get_logger
from trustscope.platforms import PlatformRegistry
from trustscope.schemas import DocumentIn
from trustscope.settings import Settings, get_settings
from trustscope.web import (
    ApiError,
    check_content_length,
    install_error_handlers,
    install_metrics,
    readiness,
    role_dependency,
    validation_errors,
)

log = get_logger("trustscope.ingest")
BATCH_CHUNK = 500  # lines validated and published together


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
            log.warning("ingest.seed_failed", error=str(exc))
        app.state.redis = client
        app.state.es = make_client(settings)
        app.state.intake = Intake(client, settings, registry)
        app.state.keyring = KeyRing(settings.api_keys.get_secret_value())
        if not len(app.state.keyring):
            log.warning("ingest.no_api_keys", hint="set TS_API_KEYS; every write will be refused")
        log.info("ingest.started", version=__version__)
        yield
        app.state.es.close()
        client.close()

    app = FastAPI(title="TrustScope ingest", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    install_metrics(app, "ingest")
    app.include_router(webhook_router(settings))  # signed pushed posts, no API key
    require_ingest = role_dependency(lambda r: r.app.state.keyring, "ingest")

    def intake_of(request: Request) -> Intake:
        return request.app.state.intake  # type: ignore[no-any-return]

    def backpressure(intake: Intake) -> None:
        try:
            intake.check_backpressure()
        except Backpressure as exc:
            raise ApiError(503, "backlog_full", str(exc) + "; retry later",
                           headers={"Retry-After": str(exc.retry_after)}, backlog=exc.backlog) from exc

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "ingest", "version": __version__}

    @app.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        """Ready when Redis and Elasticsearch answer (without ES the pipeline only backs up)."""
        return readiness(request.app.state.redis, request.app.state.es)

    @app.post("/v1/documents", status_code=202, dependencies=[Depends(require_ingest)])
    async def post_document(request: Request) -> JSONResponse:
        """One review, news item or post (JSON). 202 with its id and whether it was new."""
        check_content_length(request, settings.max_body_bytes)
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            raise ApiError(413, "payload_too_large", f"the limit is {settings.max_body_bytes} bytes")
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
        intake = intake_of(request)
        await run_in_threadpool(backpressure, intake)
        outcome = (await run_in_threadpool(intake.submit, [item]))[0]
        INGEST_DOCUMENTS.labels(outcome.status).inc()
        status = 202 if outcome.status != "duplicate" else 200
        return JSONResponse({"id": outcome.id, "status": outcome.status, "platforms": outcome.platforms},
                            status_code=status)

    @app.post("/v1/documents/batch", dependencies=[Depends(require_ingest)])
    async def post_batch(request: Request) -> dict[str, Any]:
        """NDJSON, one document per line, streamed. Good lines are kept; bad ones are reported by line
        number with the reason. A body over the size limit stops at the limit: what came before is
        kept and the response says where it stopped."""
        check_content_length(request, settings.max_body_bytes)
        intake = intake_of(request)
        await run_in_threadpool(backpressure, intake)
        summary: dict[str, Any] = {"lines": 0, "accepted": 0, "updated": 0, "duplicates": 0,
                                   "rejected": 0, "errors": [], "ids": []}
        pending: list[tuple[int, DocumentIn]] = []

        async def flush() -> None:
            if not pending:
                return
            outcomes = await run_in_threadpool(intake.submit, [item for _, item in pending])
            for outcome in outcomes:
                key = "duplicates" if outcome.status == "duplicate" else outcome.status
                summary[key] += 1
                summary["ids"].append(outcome.id)
                INGEST_DOCUMENTS.labels(outcome.status).inc()
            pending.clear()

        def reject(line_no: int, reason: str, errors: list[dict[str, str]] | None = None) -> None:
            summary["rejected"] += 1
            INGEST_DOCUMENTS.labels("rejected").inc()
            if len(summary["errors"]) < 1000:
                entry: dict[str, Any] = {"line": line_no, "reason": reason}
                if errors:
                    entry["errors"] = errors
                summary["errors"].append(entry)

        line_no = 0
        received = 0
        buffer = b""
        truncated = False
        async for chunk in request.stream():
            received += len(chunk)
            if received > settings.max_body_bytes:
                truncated = True
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line_no += 1
                handle_line(line_no, raw, pending, reject)
            if len(pending) >= BATCH_CHUNK:
                await flush()
        if buffer.strip() and not truncated:
            line_no += 1
            handle_line(line_no, buffer, pending, reject)
        await flush()
        summary["lines"] = line_no
        if truncated:
            summary["truncated"] = True
            summary["message"] = (f"body exceeded {settings.max_body_bytes} bytes; lines after "
                                  f"{line_no} were not read")
        if len(summary["ids"]) > 10_000:
            summary["ids"] = summary["ids"][:10_000]
            summary["ids_truncated"] = True
        return summary

    return app


def handle_line(line_no: int, raw: bytes, pending: list[tuple[int, DocumentIn]], reject: Any) -> None:
    raw = raw.strip()
    if not raw:
        return  # blank lines (e.g. a trailing newline) are not documents
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reject(line_no, f"invalid JSON: {exc}")
        return
    if not isinstance(data, dict):
        reject(line_no, "each line must be a JSON object")
        return
    try:
        pending.append((line_no, DocumentIn.model_validate(data)))
    except ValidationError as exc:
        errors = validation_errors(exc)
        reject(line_no, "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)


app = create_app()
