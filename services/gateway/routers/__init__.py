"""The gateway's routers, one module per resource, included by ``app.create_app`` in this order.

Adding a router: create ``routers/<resource>.py`` exposing ``router = APIRouter(...)``, import it
here and append it to ``ROUTERS``; then add its endpoints' rows to ``tests/authz_matrix.yaml``
(the authorisation-matrix test fails on a route without a row).
"""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.routers import threads  # noqa: I001 - H7's router
from services.gateway.routers import console, platform_pages, scores, widgets  # noqa: I001 - H4's routers
from services.gateway.routers import admin, alerts, analytics, audit, docs, documents, health, keys, platforms, search

ROUTERS: list[APIRouter] = [
    health.router,
    docs.router,
    platforms.router,
    documents.router,
    threads.router,
    search.router,
    analytics.router,
    alerts.router,
    admin.router,
    keys.router,
    audit.router,
    console.router,
    platform_pages.router,
    scores.router,
    widgets.router,
]
