"""Public widgets (no key): the ``<trustscope-score>`` web component, the iframe card, the iframe
loader script, the SVG badge and the JSON the component draws. See ``services.gateway.widget`` for
the payload, its caches and the rendering; docs/widget.md for embedding.

Hot path: a hit in the per-process memo answers without any I/O (and without the thread pool);
a miss reads the registry and the payload in the thread pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from services.gateway import widget
from trustscope.web import ApiError

router = APIRouter(tags=["widgets"])
STATIC = Path(__file__).resolve().parent.parent / "static" / "widget"
COMPONENT_PATH = "/widget/v1/trustscope-score.js"
LangQ = Annotated[str | None, Query(max_length=20, description="zh or en; default from Accept-Language")]


def data_of(request: Request) -> widget.WidgetData:
    state = request.app.state
    wd = getattr(state, "widget_data", None)
    if wd is None:
        s = state.settings
        wd = widget.WidgetData(state.redis, state.es, state.indices.read_alias, s.stream_prefix, s.score_min_verified)
        state.widget_data = wd
    return wd  # type: ignore[no-any-return]


def base_url(request: Request) -> str:
    return str(request.app.state.settings.public_base_url).rstrip("/")


def _headers(etag: str, csp: str, vary_lang: bool, stale: bool, cache: str = widget.CACHE_CONTROL) -> dict[str, str]:
    h = {"ETag": etag, "Cache-Control": cache, "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
         "Referrer-Policy": "strict-origin-when-cross-origin"}
    if vary_lang:
        h["Vary"] = "Accept-Language"
    if stale:
        h["X-TrustScope-Stale"] = "1"
    return h


def _respond(request: Request, hit: tuple[bytes, str, bool], media_type: str, csp: str, vary_lang: bool) -> Response:
    body, etag, stale = hit
    headers = _headers(etag, csp, vary_lang, stale)
    if widget.not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _build(request: Request, kind: str, platform_id: str, lang: str) -> tuple[bytes, str, bool]:
    wd = data_of(request)
    platform = request.app.state.registry.get(platform_id)
    if platform is None:
        raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")
    payload = wd.payload(platform)
    base = base_url(request)
    if kind == "card":
        body = widget.render_card(payload.data, lang, base, payload.stale).encode()
    elif kind == "badge":
        body = widget.render_badge(payload.data, lang).encode()
    else:
        body = orjson.dumps(widget.render_json(payload.data, lang, base, payload.stale))
    hit = (body, widget.etag_of(body), payload.stale)
    wd.memo_put((kind, platform_id, lang), hit)
    return hit


async def _serve(request: Request, kind: str, platform_id: str, lang_param: str | None) -> tuple[bytes, str, bool]:
    lang = widget.choose_lang(lang_param, request.headers.get("accept-language"))
    hit = data_of(request).memo_get((kind, platform_id, lang))
    if hit is None:
        hit = await run_in_threadpool(_build, request, kind, platform_id, lang)
    return hit  # type: ignore[no-any-return]


@router.get(COMPONENT_PATH, summary="The <trustscope-score> web component")
async def component_script(request: Request) -> Response:
    """A custom element (shadow DOM, no framework) that draws a platform's verified score from
    ``/v1/widgets/{platform_id}``. Its base URL is the configured ``public_base_url``."""
    wd = data_of(request)
    hit = wd.memo_get(("component",))
    if hit is None:
        source = (STATIC / "trustscope-score.js").read_text("utf-8")
        body = source.replace('"__TS_BASE_URL__"', orjson.dumps(base_url(request)).decode()).encode()
        hit = (body, widget.etag_of(body), False)
        wd.memo_put(("component",), hit, ttl=3600)
    return _respond(request, hit, "application/javascript; charset=utf-8", widget.JSON_CSP, False)


@router.get("/widget/{platform_id}.js", summary="Script that inserts the widget iframe")
async def widget_script(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    """The one-line embed: inserts an iframe of ``/widget/{platform_id}`` (URL from ``public_base_url``,
    never from the request's Host header) after the script tag."""
    key = ("loader", platform_id, lang or "")
    wd = data_of(request)
    hit = wd.memo_get(key)
    if hit is None:
        def make() -> tuple[bytes, str, bool]:
            if request.app.state.registry.get(platform_id) is None:
                raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")
            src = f"{base_url(request)}/widget/{platform_id}" + (f"?lang={widget.choose_lang(lang, None)}" if lang else "")
            js = ("(function(){var s=document.currentScript;if(!s)return;var f=document.createElement('iframe');"
                  f"f.src={orjson.dumps(src).decode()};f.title='TrustScope verified score';f.style.border='0';"
                  "f.width='340';f.height='520';f.loading='lazy';s.parentNode.insertBefore(f,s.nextSibling);})();")
            body = js.encode()
            return body, widget.etag_of(body), False
        hit = await run_in_threadpool(make)
        wd.memo_put(key, hit, ttl=60)
    return _respond(request, hit, "application/javascript; charset=utf-8", widget.JSON_CSP, False)


@router.get("/widget/{platform_id}/badge.svg", summary="SVG badge with the verified score")
async def widget_badge(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    hit = await _serve(request, "badge", platform_id, lang)
    return _respond(request, hit, "image/svg+xml; charset=utf-8", widget.SVG_CSP, lang is None)


@router.get("/widget/{platform_id}", summary="The widget card (for an iframe)")
async def widget_card(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    """Verified score, stars, distribution, recent verified reviews with the platform's replies, and
    how the score is computed; schema.org AggregateRating JSON-LD when a score is shown."""
    hit = await _serve(request, "card", platform_id, lang)
    return _respond(request, hit, "text/html; charset=utf-8", widget.CARD_CSP, lang is None)


@router.get("/v1/widgets/{platform_id}", summary="Widget data (what the web component draws)")
async def widget_data(request: Request, platform_id: str, lang: LangQ = None) -> Response:
    hit = await _serve(request, "json", platform_id, lang)
    return _respond(request, hit, "application/json", widget.JSON_CSP, lang is None)


