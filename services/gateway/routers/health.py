"""Liveness and readiness. Public; readiness names what is down but never how to reach it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.gateway.deps import ES, RedisDep
from trustscope import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "gateway", "version": __version__}


@router.get("/readyz")
def readyz(client: RedisDep, es: ES) -> JSONResponse:
    """Ready when Redis answers and Elasticsearch is yellow or green. The body says ``ok`` or
    ``unavailable`` per dependency: exception text (hosts, ports) stays in the log."""
    checks: dict[str, str] = {}
    try:
        client.ping()
        checks["redis"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        checks["redis"] = "unavailable"
    try:
        health = es.cluster.health(timeout="2s")
        checks["elasticsearch"] = "ok" if health["status"] in ("green", "yellow") else str(health["status"])
    except Exception:  # noqa: BLE001
        checks["elasticsearch"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    headers = None if ready else {"Retry-After": "5"}
    return JSONResponse({"status": "ready" if ready else "not_ready", **checks},
                        status_code=200 if ready else 503, headers=headers)
