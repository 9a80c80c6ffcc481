"""Public widgets (no key): the ``<trustscope-score>`` web component, the iframe card, the iframe
loader script, the SVG badge and the JSON the component draws. See ``services.gateway.widget`` for
the payload, its caches and the rendering; docs/widget.md for embedding.

Hot path: ``WidgetEdgeCache`` (installed outermost by ``install_edge``) answers GETs whose rendered
bytes are in the per-process memo before the request reaches routing and the other middleware - a
response cache inside the process, like a reverse proxy's, costing tens of microseconds. Misses,
and every other request, go through the app; the routes below fill the memo (in the thread pool,
because a miss does Redis and Elasticsearch I/O).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool

from services.gateway import widget
from trustscope.web import ApiError

router = APIRouter(tags=["widgets"])
STATIC = Path(__file__).resolve().parent.parent / "static" / "widget"
COMPONENT_PATH = "/widget/v1/trustscope-score.js"
LangQ = Annotated[str | None, Query(max_length=20, description="zh or en; default from Accept-Language")]
MEDIA = {"card": "text/html; charset=utf-8", "badge": "image/svg+xml; charset=utf-8", "json": "application/json",
         "loader": "application/javascript; charset=utf-8", "component": "application/javascript; charset=utf-8"}
CSP = {"card": widget.CARD_CSP, "badge": widget.SVG_CSP, "json": widget.JSON_CSP, "loader": widget.JSON_CSP,
       "component": widget.JSON_CSP}


@dataclass(frozen=True)
class Target:
    """Which widget rendering a request asks for, and its memo key."""

    kind: str
    platform_id: str
    lang: str
    explicit_lang: bool

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind == "component":
            return ("component",)
        if self.kind == "loader":
            return ("loader", self.platform_id, self.lang if self.explicit_lang else "")
        return (self.kind, self.platform_id, self.lang)


def target_of(path: str, lang_param: str | None, accept_language: str | None) -> Target | None:
    """The widget a path names (None for any other path)."""
    if path == COMPONENT_PATH:
        return Target("component", "", "", False)
    if path.startswith("/v1/widgets/"):
        kind, pid = "json", path[len("/v1/widgets/"):]
    elif path.startswith("/widget/"):
        rest = path[len("/widget/"):]
        if rest.endswith("/badge.svg"):
            kind, pid = "badge", rest[: -len("/badge.svg")]
        elif rest.endswith(".js"):
            kind, pid = "loader", rest[:-3]
        else:
            kind, pid = "card", rest
    else:
        return None
    if not pid or "/" in pid:
        return None
    return Target(kind, pid, widget.choose_lang(lang_param, accept_language), lang_param is not None)


def data_of(state: Any) -> widget.WidgetData:
    wd = getattr(state, "widget_data", None)
    if wd is None:
        s = state.settings
        wd = widget.WidgetData(state.redis, state.es, state.indices.read_alias, s.stream_prefix, s.score_min_verified)
        state.widget_data = wd
    return wd  # type: ignore[no-any-return]


def base_url(state: Any) -> str:
    return str(state.settings.public_base_url).rstrip("/")


def response_headers(t: Target, etag: str, stale: bool) -> dict[str, str]:
    h = {"ETag": etag, "Cache-Control": widget.CACHE_CONTROL, "Content-Security-Policy": CSP[t.kind],
         "X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"}
    if t.kind in ("card", "badge", "json") and not t.explicit_lang:
        h["Vary"] = "Accept-Language"
    if stale:
        h["X-TrustScope-Stale"] = "1"
    return h


def _respond(request: Request, t: Target, hit: tuple[bytes, str, bool]) -> Response:
    body, etag, stale = hit
    headers = response_headers(t, etag, stale)
    if widget.not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA[t.kind], headers=headers)


def _render(state: Any, t: Target) -> tuple[bytes, str, bool]:
    """Render (and memoise) one target: the miss path, in the thread pool."""
    wd = data_of(state)
    if t.kind == "component":
        source = (STATIC / "trustscope-score.js").read_text("utf-8")
        body = source.replace('"__TS_BASE_URL__"', orjson.dumps(base_url(state)).decode()).encode()
        hit = (body, widget.etag_of(body), False)
        wd.memo_put(t.key, hit, ttl=3600)
        return hit
    platform = state.registry.get(t.platform_id)
    if platform is None:
        raise ApiError(404, "unknown_platform", f"no platform with id '{t.platform_id}'")
    base = base_url(state)
    if t.kind == "loader":
        src = f"{base}/widget/{platform.id}" + (f"?lang={t.lang}" if t.explicit_lang else "")
        body = ("(function(){var s=document.currentScript;if(!s)return;var f=document.createElement('iframe');"
                f"f.src={orjson.dumps(src).decode()};f.title='TrustScope verified score';f.style.border='0';"
                "f.width='340';f.height='520';f.loading='lazy';s.parentNode.insertBefore(f,s.nextSibling);})();").encode()
        hit = (body, widget.etag_of(body), False)
        wd.memo_put(t.key, hit, ttl=60)
        return hit
    payload = wd.payload(platform)
    if t.kind == "card":
        body = widget.render_card(payload.data, t.lang, base, payload.stale).encode()
    elif t.kind == "badge":
        body = widget.render_badge(payload.data, t.lang).encode()
    else:
        body = orjson.dumps(widget.render_json(payload.data, t.lang, base, payload.stale))
    hit = (body, widget.etag_of(body), payload.stale)
    wd.memo_put(t.key, hit)
    return hit


async def _serve(request: Request, lang: str | None) -> Response:
    t = target_of(request.url.path, lang, request.headers.get("accept-language"))
    if t is None:
        raise ApiError(404, "not_found", "no such widget")
    state = request.app.state
    hit = data_of(state).memo_get(t.key)
    if hit is None:
        hit = await run_in_threadpool(_render, state, t)
    return _respond(request, t, hit)


def _responses(kind: str, what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI of a widget route: its own media type, and 304 for a matching If-None-Match."""
    return {200: {"description": what, "content": {MEDIA[kind].split(";")[0]: {"schema": {"type": "string"}}}},
            304: {"description": "not modified (If-None-Match matched the ETag)"}}


# Registered in this order: "/widget/{id}" would otherwise swallow "x.js" and "v1/...".
@router.get(COMPONENT_PATH, summary="The <trustscope-score> web component",
            responses=_responses("component", "the custom element's script"))
async def component_script(request: Request) -> Response:
    """A custom element (shadow DOM, no framework) that draws a platform's verified score from
    ``/v1/widgets/{platform_id}``; its base URL is the configured ``public_base_url``."""
    return await _serve(request, None)


@router.get("/widget/{platform_id}.js", summary="Script that inserts the widget iframe",
            responses=_responses("loader", "the embed script"))
async def widget_script(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    """The one-line embed: inserts an iframe of ``/widget/{platform_id}`` (URL from ``public_base_url``,
    never from the request's Host header) after the script tag."""
    return await _serve(request, lang)


@router.get("/widget/{platform_id}/badge.svg", summary="SVG badge with the verified score",
            responses=_responses("badge", "the badge"))
async def widget_badge(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    return await _serve(request, lang)


@router.get("/widget/{platform_id}", summary="The widget card (for an iframe)",
            responses=_responses("card", "the card (HTML)"))
async def widget_card(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    """Verified score, stars, distribution, recent verified reviews with the platform's replies, and
    how the score is computed; schema.org AggregateRating JSON-LD when a score is shown."""
    return await _serve(request, lang)


@router.get("/v1/widgets/{platform_id}", summary="Widget data (what the web component draws)",
            responses=_responses("json", "the widget data"))
async def widget_data(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    return await _serve(request, lang)


EDGE_HITS = Counter("trustscope_widget_edge_hits_total", "widget requests answered from the edge cache",
                    ["kind", "status"])


# --- the edge cache ---------------------------------------------------------------------------------
class WidgetEdgeCache:
    """Pure ASGI middleware: memo hits for widget GETs answered before routing (see module doc).

    It adds what the skipped middleware would have: CORS for the component's cross-origin fetch
    (``cors_origins``; the request id comes from ``RequestIdMiddleware`` outside it); it counts hits in ``trustscope_widget_edge_hits_total``."""

    def __init__(self, app: Any, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not (
                scope["path"].startswith("/widget/") or scope["path"].startswith("/v1/widgets/")):
            await self.app(scope, receive, send)
            return
        state = self.fastapi_app.state
        wd = getattr(state, "widget_data", None)
        if wd is None:
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope["headers"] if k in (b"accept-language", b"if-none-match", b"origin")}
        qs = scope.get("query_string") or b""
        lang = None
        if qs:
            values = parse_qs(qs.decode("latin-1")).get("lang")
            if values:
                if len(values[0]) > 20:
                    await self.app(scope, receive, send)  # let validation answer 422
                    return
                lang = values[0]
        al = headers.get(b"accept-language")
        t = target_of(scope["path"], lang, al.decode("latin-1") if al else None)
        hit = wd.memo_get(t.key) if t is not None else None
        if t is None or hit is None:
            await self.app(scope, receive, send)
            return
        body, etag, stale = hit
        out = response_headers(t, etag, stale)
        origin = headers.get(b"origin")
        if origin is not None:
            allowed = state.settings.cors_origins
            if allowed.strip() == "*":
                out["Access-Control-Allow-Origin"] = "*"
            elif origin.decode("latin-1") in [o.strip() for o in allowed.split(",")]:
                out["Access-Control-Allow-Origin"] = origin.decode("latin-1")
                out["Vary"] = (out.get("Vary", "") + ", Origin").lstrip(", ")
        inm = headers.get(b"if-none-match")
        status = 304 if widget.not_modified(inm.decode("latin-1") if inm else None, etag) else 200
        if status == 200:
            out["Content-Type"] = MEDIA[t.kind]
            out["Content-Length"] = str(len(body))
        EDGE_HITS.labels(t.kind, str(status)).inc()
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in out.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body if status == 200 and scope["method"] == "GET" else b""})


def install_edge(app: FastAPI) -> None:
    """Put the widget edge cache in front of everything else (call after the other middleware)."""
    app.add_middleware(WidgetEdgeCache, fastapi_app=app)
