"""The web console (``/console``): static HTML, CSS and JS with no build step, plus the vendored
ECharts file. The page itself is public; everything it shows comes from the API with the key the
user enters (kept in the tab's sessionStorage, sent as a header, never in a URL).

Files are served from a fixed table (no path from the request reaches the file system) with a
strict Content-Security-Policy: scripts, styles and API calls only from this origin.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from trustscope.web import ApiError

router = APIRouter(tags=["console"], include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
FILES = {
    "index.html": (STATIC / "console" / "index.html", "text/html; charset=utf-8"),
    "console.js": (STATIC / "console" / "console.js", "application/javascript; charset=utf-8"),
    "console.css": (STATIC / "console" / "console.css", "text/css; charset=utf-8"),
    "vendor/echarts/echarts.min.js": (STATIC / "vendor" / "echarts" / "echarts.min.js", "application/javascript; charset=utf-8"),
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@lru_cache(maxsize=len(FILES))
def _load(name: str) -> tuple[bytes, str]:
    path, _ = FILES[name]
    body = path.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def _serve(request: Request, name: str) -> Response:
    if name not in FILES:
        raise ApiError(404, "not_found", f"no console file '{name}'")
    body, etag = _load(name)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Content-Security-Policy": CSP,
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=FILES[name][1], headers=headers)


@router.get("/console")
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/")
def console_index(request: Request) -> Response:
    return _serve(request, "index.html")


@router.get("/console/{name:path}")
def console_file(request: Request, name: str) -> Response:
    return _serve(request, name)
