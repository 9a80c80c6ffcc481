"""Gateway: the public and authenticated read API over Elasticsearch, plus admin endpoints.

Public: health, platform list, verified scores and embeddable widgets. ``reader``: documents,
search and analytics. ``alerts``: rumour alerts. ``admin``: the platform registry, the dead-letter
stream and pipeline state. Run: ``uvicorn services.gateway.app:app --port 8000``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from elasticsearch import Elasticsearch, NotFoundError
from fastapi import Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from services.gateway import queries, scores, widget
from trustscope import __version__
from trustscope.auth import KeyRing
from trustscope.bus import DEAD_LETTER, StreamBus, StreamIdError
from trustscope.es import DocIndices, make_client
from trustscope.intake import redis_client
from trustscope.observability import configure_logging, get_logger
from trustscope.platforms import Platform, PlatformPatch, PlatformRegistry
from trustscope.schemas import parse_time
from trustscope.settings import Settings, get_settings
from trustscope.web import (
    ApiError,
    install_error_handlers,
    install_metrics,
    readiness,
    role_dependency,
)

log = get_logger("trustscope.gateway")
PIPELINE_STREAMS = ["ingest", "scored", "verified", DEAD_LETTER]
KINDS = Literal["review", "news", "social"]
VERDICTS = Literal["verified", "suspicious", "fake"]


def _time_param(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", f"{name}: {exc}") from exc


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        configure_logging(settings.log_level, settings.log_json)
        client = redis_client(settings)
        es = make_client(settings)
        indices = DocIndices(settings.es_index_prefix)
        registry = PlatformRegistry(client, settings.stream_prefix)
        try:
            registry.seed_defaults()
            indices.migrate(es)
        except Exception as exc:  # noqa: BLE001 - readiness reports it; the process must stay up
            log.warning("gateway.startup_incomplete", error=str(exc))
        app.state.redis = client
        app.state.es = es
        app.state.indices = indices
        app.state.registry = registry
        app.state.bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries,
                                  settings.claim_idle_ms)
        app.state.keyring = KeyRing(settings.api_keys.get_secret_value())
        log.info("gateway.started", version=__version__)
        yield
        es.close()
        client.close()

    app = FastAPI(title="TrustScope gateway", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    install_metrics(app, "gateway")
    app.add_middleware(CORSMiddleware, allow_origins=[o.strip() for o in settings.cors_origins.split(",")],
                       allow_methods=["GET"], allow_headers=["*"])

    def keyring(r: Request) -> KeyRing:
        return r.app.state.keyring  # type: ignore[no-any-return]

    reader = Depends(role_dependency(keyring, "reader"))
    alerts_role = Depends(role_dependency(keyring, "alerts"))
    admin = Depends(role_dependency(keyring, "admin"))

    def es_of(request: Request) -> Elasticsearch:
        return request.app.state.es  # type: ignore[no-any-return]

    def registry_of(request: Request) -> PlatformRegistry:
        return request.app.state.registry  # type: ignore[no-any-return]

    def known_platform(request: Request, platform_id: str) -> Platform:
        platform = registry_of(request).get(platform_id)
        if platform is None:
            raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")
        return platform

    # --- health ----------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "gateway", "version": __version__}

    @app.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        """Ready when Redis and Elasticsearch answer (without ES the pipeline only backs up)."""
        return readiness(request.app.state.redis, request.app.state.es)

    # --- public: platforms, scores, widgets -----------------------------------------------
    @app.get("/v1/platforms")
    def list_platforms(request: Request) -> dict[str, Any]:
        return {"platforms": [p.model_dump() for p in registry_of(request).all()]}

    @app.get("/v1/platforms/{platform_id}")
    def get_platform(request: Request, platform_id: str) -> dict[str, Any]:
        return known_platform(request, platform_id).model_dump()

    @app.get("/v1/platforms/{platform_id}/score")
    def platform_score(request: Request, platform_id: str) -> dict[str, Any]:
        """Verified review score: counts only reviews that passed integrity checks, and says how many
        were excluded and why."""
        known_platform(request, platform_id)
        return scores.platform_score(request.app.state.redis, es_of(request), request.app.state.indices,
                                     settings.stream_prefix, platform_id)

    widget.install(app, known_platform, lambda request, pid: platform_score(request, pid))

    # --- reader: documents, search, analytics ---------------------------------------------
    @app.get("/v1/documents/{doc_id}", dependencies=[reader])
    def get_document(request: Request, doc_id: str) -> dict[str, Any]:
        indices: DocIndices = request.app.state.indices
        try:
            hit = es_of(request).get(index=indices.read_alias, id=doc_id)
        except NotFoundError as exc:
            raise ApiError(404, "not_found", f"no document with id '{doc_id}'") from exc
        return hit["_source"]  # type: ignore[no-any-return]

    @app.get("/v1/platforms/{platform_id}/documents", dependencies=[reader])
    def platform_documents(
        request: Request, platform_id: str,
        kind: KINDS | None = None, verdict: VERDICTS | None = None,
        since: str | None = None, until: str | None = None,
        size: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
    ) -> dict[str, Any]:
        known_platform(request, platform_id)
        return _search(request, None, platform_id, kind, verdict, since, until, None, size, cursor)

    @app.get("/v1/search", dependencies=[reader])
    def search(
        request: Request,
        q: Annotated[str | None, Query(max_length=200, description="phrases, space separated")] = None,
        platform: str | None = None, kind: KINDS | None = None, verdict: VERDICTS | None = None,
        sentiment: Literal["positive", "negative", "neutral"] | None = None,
        since: str | None = None, until: str | None = None,
        size: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
    ) -> dict[str, Any]:
        return _search(request, q, platform, kind, verdict, since, until, sentiment, size, cursor)

    def _search(request: Request, q: str | None, platform: str | None, kind: str | None,
                verdict: str | None, since: str | None, until: str | None, sentiment: str | None,
                size: int, cursor: str | None) -> dict[str, Any]:
        flt = queries.filters(platform, kind, verdict, _time_param(since, "since"),
                              _time_param(until, "until"), sentiment)
        try:
            body = queries.search_body(q, flt, size, cursor)
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "bad_parameter", f"cursor: {exc}") from exc
        result = es_of(request).search(index=request.app.state.indices.read_alias, **body)
        return queries.page(result.body, size)

    @app.get("/v1/platforms/{platform_id}/sentiment", dependencies=[reader])
    def sentiment_trend(
        request: Request, platform_id: str,
        interval: Literal["hour", "day", "week", "month"] = "day",
        since: str | None = None, until: str | None = None,
        kind: KINDS | None = None, tz: str = "Asia/Shanghai",
    ) -> dict[str, Any]:
        """Public sentiment about a platform over time (for regulators' analytics)."""
        known_platform(request, platform_id)
        flt = queries.filters(platform_id, kind, None, _time_param(since, "since"), _time_param(until, "until"))
        try:
            result = es_of(request).search(index=request.app.state.indices.read_alias,
                                           **queries.sentiment_over_time(flt, interval, tz))
        except Exception as exc:  # noqa: BLE001 - a bad time zone is the caller's error
            if "time_zone" in str(exc) or "zone" in str(exc).lower():
                raise ApiError(400, "bad_parameter", f"tz: unknown time zone '{tz}'") from exc
            raise
        return {"platform": platform_id, "interval": interval, "tz": tz,
                "buckets": queries.shape_over_time(result.body)}

    # --- alerts ------------------------------------------------------------------------------
    @app.get("/v1/alerts", dependencies=[alerts_role])
    def rumour_alerts(
        request: Request, hours: Annotated[int, Query(ge=1, le=24 * 30)] = 24,
        min_score: Annotated[float, Query(ge=0, le=1)] = 0.5, platform: str | None = None,
    ) -> dict[str, Any]:
        """Platforms with rumour-like texts in the last ``hours`` (placeholder lexicon score)."""
        flt = queries.filters(platform=platform)
        flt.append({"range": {"created_at": {"gte": f"now-{hours}h"}}})
        flt.append({"range": {"rumour.score": {"gte": min_score}}})
        body = {"size": 0, "query": {"bool": {"filter": flt}}, "aggs": {"platforms": {
            "terms": {"field": "platforms", "size": 50},
            "aggs": {"terms": {"terms": {"field": "rumour.terms", "size": 10}},
                     "authors": {"cardinality": {"field": "author_id"}},
                     "first": {"min": {"field": "created_at"}}, "last": {"max": {"field": "created_at"}},
                     "top": {"top_hits": {"size": 3, "sort": [{"rumour.score": "desc"}],
                                          "_source": ["id", "text", "url", "created_at", "rumour"]}}}}}}
        result = es_of(request).search(index=request.app.state.indices.read_alias, **body).body
        alerts = []
        for b in result["aggregations"]["platforms"]["buckets"]:
            alerts.append({
                "platform": b["key"], "mentions": b["doc_count"], "authors": b["authors"]["value"],
                "terms": {t["key"]: t["doc_count"] for t in b["terms"]["buckets"]},
                "first_seen": b["first"].get("value_as_string"), "last_seen": b["last"].get("value_as_string"),
                "examples": [h["_source"] for h in b["top"]["hits"]["hits"]],
            })
        return {"hours": hours, "min_score": min_score, "engine": "rumour-lexicon-placeholder-v1",
                "alerts": alerts}

    # --- admin -------------------------------------------------------------------------------
    @app.post("/v1/admin/platforms", status_code=201, dependencies=[admin])
    def create_platform(request: Request, platform: Platform) -> dict[str, Any]:
        if not registry_of(request).create(platform):
            raise ApiError(409, "conflict", f"platform '{platform.id}' exists; use PATCH to edit it")
        return platform.model_dump()

    @app.patch("/v1/admin/platforms/{platform_id}", dependencies=[admin])
    def edit_platform(request: Request, platform_id: str, patch: PlatformPatch) -> dict[str, Any]:
        updated = registry_of(request).update(platform_id, patch)
        if updated is None:
            raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")
        return updated.model_dump()

    @app.delete("/v1/admin/platforms/{platform_id}", status_code=204, dependencies=[admin])
    def delete_platform(request: Request, platform_id: str) -> None:
        if not registry_of(request).delete(platform_id):
            raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")

    @app.get("/v1/admin/dead-letters", dependencies=[admin])
    def dead_letters(request: Request, count: Annotated[int, Query(ge=1, le=1000)] = 100,
                     after: str = "-") -> dict[str, Any]:
        bus: StreamBus = request.app.state.bus
        try:
            items = bus.dead_letters(count, after)
        except StreamIdError as exc:
            raise ApiError(400, "bad_parameter", str(exc)) from exc
        return {"total": bus.backlog(DEAD_LETTER), "dead_letters": [asdict(d) for d in items]}

    @app.post("/v1/admin/dead-letters/{dead_id}/replay", dependencies=[admin])
    def replay(request: Request, dead_id: str) -> dict[str, Any]:
        try:
            new_id = request.app.state.bus.replay_dead_letter(dead_id)
        except StreamIdError:  # not an id, so no dead letter has it
            new_id = None
        if new_id is None:
            raise ApiError(404, "not_found", f"no dead letter with id '{dead_id}'")
        return {"replayed": dead_id, "message_id": new_id}

    @app.delete("/v1/admin/dead-letters/{dead_id}", status_code=204, dependencies=[admin])
    def drop_dead_letter(request: Request, dead_id: str) -> None:
        try:
            dropped = request.app.state.bus.delete_dead_letter(dead_id)
        except StreamIdError:
            dropped = False
        if not dropped:
            raise ApiError(404, "not_found", f"no dead letter with id '{dead_id}'")

    @app.get("/v1/admin/pipeline", dependencies=[admin])
    def pipeline(request: Request) -> dict[str, Any]:
        bus: StreamBus = request.app.state.bus
        out: dict[str, Any] = {}
        for stream in PIPELINE_STREAMS:
            info: dict[str, Any] = {"backlog": bus.backlog(stream)}
            try:
                groups = bus.client.xinfo_groups(bus.key(stream))
                info["groups"] = [{"name": g["name"].decode() if isinstance(g["name"], bytes) else g["name"],
                                   "consumers": g["consumers"], "pending": g["pending"]} for g in groups]
            except Exception:  # noqa: BLE001 - a stream not created yet
                info["groups"] = []
            out[stream] = info
        return {"streams": out}

    return app


app = create_app()
