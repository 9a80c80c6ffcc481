"""Liveness and readiness. Public; readiness names what is down but never how to reach it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.gateway.deps import ES, RedisDep
from trustscope import __version__
from trustscope.web import READINESS_RESPONSES, readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "gateway", "version": __version__}


@router.get("/readyz", responses=READINESS_RESPONSES)
def readyz(client: RedisDep, es: ES) -> JSONResponse:
    """Ready when Redis answers and Elasticsearch is yellow or green (the same check and body as
    every service: ``trustscope.web.readiness``)."""
    return readiness(client, es)
