"""The authorisation matrix: every route of the real gateway x every role, against tests/authz_matrix.yaml.

Routes are enumerated from ``app.routes``, so a new endpoint without a row fails here, and so does a
row whose endpoint is gone. Every cell is a real HTTP request with a real key to a real server over
Redis and Elasticsearch holding pipeline-built documents; any 5xx fails too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.routing import Mount

from services.gateway.app import create_app
from tests.integration.gateway_corpus import item, pipeline_corpus
from tests.integration.helpers import ADMIN, ALERTS, INGEST, READER
from trustscope.keys import KeySpec, RedisKeyStore

pytestmark = pytest.mark.integration

TABLE = Path(__file__).resolve().parents[1] / "authz_matrix.yaml"
SKIP_METHODS = {"HEAD", "OPTIONS"}


def app_routes(app: Any) -> set[str]:
    """``"METHOD /path"`` for every route, including those of included routers (FastAPI >= 0.13x keeps
    them as lazily included routers) and static mounts (as ``GET /mount/{path}``)."""
    out: set[str] = set()

    def add(path: str | None, methods: set[str] | None) -> None:
        for m in sorted(methods or set()):
            if m not in SKIP_METHODS and path:
                out.add(f"{m} {path}")

    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            for ctx in route.effective_route_contexts():
                add(ctx.path, getattr(ctx.original_route, "methods", None))
        elif isinstance(route, Mount):
            out.add(f"GET {route.path}/{{path}}")
        else:
            add(getattr(route, "path", None), getattr(route, "methods", None))
    return out


def expected(row: dict[str, Any], role: str) -> str:
    value = row.get(role, row.get("default", row.get("all")))
    assert value is not None, f"row {row} has no class for role {role}"
    return str(value)


def status_class(code: int) -> str:
    if code in (401, 403):
        return str(code)
    if code == 429 or code >= 500:
        return f"unexpected {code}"
    return "ok"


@pytest.fixture(scope="module")
def corpus(redis_url, es_url, classifier):
    items = [item(1, "支付宝提现很快，很满意", "alipay", 5), item(2, "拍拍贷客服回复慢", "ppdai", 2)]
    with pipeline_corpus(redis_url, es_url, classifier, items, rate_limit_per_s=1000.0,
                         rate_limit_burst=1000.0) as c:
        yield c


def test_table_covers_every_route_and_only_real_ones(corpus):
    table = yaml.safe_load(TABLE.read_text("utf-8"))
    routes = app_routes(create_app(corpus.settings))
    missing = sorted(routes - set(table["routes"]))
    stale = sorted(set(table["routes"]) - routes)
    assert not missing, f"routes without a row in {TABLE.name}: {missing}"
    assert not stale, f"rows in {TABLE.name} for routes that do not exist: {stale}"


def test_every_role_against_every_endpoint(corpus, live_server):
    table = yaml.safe_load(TABLE.read_text("utf-8"))
    platform_key = RedisKeyStore(corpus.redis, corpus.settings.stream_prefix).create(
        KeySpec(label="matrix alipay", roles=["platform"], platforms=["alipay"])).key
    keys: dict[str, dict[str, str]] = {
        "public": {}, "platform": {"Authorization": f"Bearer {platform_key}"},
        "risk_team": ALERTS, "regulator": READER, "admin": ADMIN, "ingest": INGEST,
    }
    assert set(keys) == set(table["roles"])
    params = {k: (corpus.docs["1"]["id"] if v == "@alipay_doc" else str(v)) for k, v in table["params"].items()}
    wrong: list[str] = []
    with live_server(create_app(corpus.settings)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        for route, row in sorted(table["routes"].items()):
            method, template = route.split(" ", 1)
            path = row.get("path") or re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], template)
            for role in table["roles"]:
                with client.stream(method, path, headers=keys[role]) as r:  # stream: SSE never ends
                    got = status_class(r.status_code)
                want = expected(row, role)
                if got != want:
                    wrong.append(f"{route} as {role}: expected {want}, got {r.status_code}")
    assert not wrong, "authorisation matrix differs:\n" + "\n".join(wrong)
