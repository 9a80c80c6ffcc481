"""Gateway: the public and authenticated read API over Elasticsearch, plus admin endpoints.

This module is only the factory: lifespan (clients), middleware, error handlers and the routers
listed in ``services.gateway.routers.ROUTERS`` (one module per resource; shared dependencies in
``services.gateway.deps``). Run: ``uvicorn services.gateway.app:app --port 8000``.
"""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager

import redis

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.gateway.errors import install_gateway_errors
from services.gateway.queries import CursorCodec
from services.gateway.routers import ROUTERS
from services.gateway.routers.docs import mount_assets as mount_docs_assets
from services.gateway.routers.widgets import install_edge as install_widget_edge
from trustscope import __version__
from trustscope.audit import AuditFlusher, AuditLog
from trustscope.auth import KeyRing
from trustscope.bus import StreamBus
from trustscope.es import DocIndices, make_client
from trustscope.es.rollup import SentimentRollups
from trustscope.intake import redis_client
from trustscope.observability import configure_logging, get_logger
from trustscope.platforms import PlatformRegistry
from trustscope.ratelimit import AuthGuard, TokenBucket
from trustscope.settings import Settings, get_settings
from trustscope.web import install_error_handlers, install_metrics, install_request_ids

log = get_logger("trustscope.gateway")
API_DESCRIPTION = (
    "Verified scores, widgets, regulator search and rumour alerts over Chinese internet-finance "
    "platforms. Send keys as `Authorization: Bearer <key>`. Roles: public (no key), platform, "
    "risk_team, regulator, admin, ingest. Errors are `{\"error\", \"message\", ...}` JSON with a "
    "request id. See docs/api.md.")


def cursor_secret(settings: Settings, client: redis.Redis) -> bytes:
    """The key that signs search cursors: ``TS_CURSOR_SECRET``, else one random secret kept in Redis
    and shared by every gateway process (a cursor from one process works on the others)."""
    if settings.cursor_secret is not None:
        return settings.cursor_secret.get_secret_value().encode()
    key = f"{settings.stream_prefix}:gateway:cursor-secret"
    try:
        client.set(key, secrets.token_hex(32), nx=True)
        value = client.get(key)
        if value:
            return bytes(value)
    except redis.RedisError as exc:
        log.warning("gateway.cursor_secret_unavailable", error=type(exc).__name__)
    # Redis down at start-up: a per-process secret (cursors then work only on this process)
    return secrets.token_bytes(32)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        configure_logging(settings.log_level, settings.log_json)
        client = redis_client(settings)
        es = make_client(settings)
        indices = DocIndices(settings.es_index_prefix)
        registry = PlatformRegistry(client, settings.stream_prefix)
        audit = AuditLog(es, settings.es_index_prefix, client, settings.stream_prefix)
        try:
            registry.seed_defaults()
            indices.migrate(es)
            audit.ensure()
        except Exception as exc:  # noqa: BLE001 - readiness reports it; the process must stay up
            log.warning("gateway.startup_incomplete", error=str(exc))
        app.state.settings = settings
        app.state.redis = client
        app.state.es = es
        app.state.indices = indices
        app.state.rollups = SentimentRollups(es, client, indices, settings.stream_prefix, tz=settings.rollup_tz)
        app.state.registry = registry
        app.state.bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries,
                                  settings.claim_idle_ms)
        app.state.audit = audit
        app.state.cursors = CursorCodec(cursor_secret(settings, client))
        app.state.keyring = KeyRing.from_settings(settings, client)
        app.state.auth_guard = AuthGuard(TokenBucket(client, settings.stream_prefix), settings.rate_limit_per_s,
                                         settings.rate_limit_burst, settings.auth_fail_per_min,
                                         settings.auth_fail_burst)
        flusher = AuditFlusher(audit)
        flusher.start()
        log.info("gateway.started", version=__version__)
        yield
        flusher.stop()
        es.close()
        client.close()

    app = FastAPI(title="TrustScope gateway", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, description=API_DESCRIPTION)
    mount_docs_assets(app)
    install_error_handlers(app)
    install_gateway_errors(app)
    install_metrics(app, "gateway")
    app.add_middleware(CORSMiddleware, allow_origins=[o.strip() for o in settings.cors_origins.split(",")],
                       allow_methods=["GET"], allow_headers=["*"])
    for router in ROUTERS:
        app.include_router(router)
    install_widget_edge(app)  # cached widget GETs skip routing and the middleware above
    install_request_ids(app)  # outermost: every answer, the edge cache's and CORS's too, has an id
    return app


app = create_app()
