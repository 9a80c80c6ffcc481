"""The embeddable review widget: a small self-contained HTML card (for an iframe) and a one-line
script that inserts that iframe. It always discloses how many reviews were excluded and why, because
a score a visitor cannot check is not worth embedding."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

REASON_LABELS_ZH = {
    "fake": "判定为虚假", "suspicious": "可疑", "near_duplicate": "重复或模板化内容", "burst": "异常集中发布",
    "new_account": "新注册或单条评价账号", "lockstep": "账号协同评价", "rating_text_mismatch": "评分与内容不符",
    "velocity": "短时间内大量评价",
}


def _stars(value: float | None) -> str:
    if value is None:
        return "☆☆☆☆☆"
    full = int(round(value))
    return "★" * full + "☆" * (5 - full)


def render_card(platform: Any, score: dict[str, Any]) -> str:
    name = html.escape(f"{platform.name_zh} {platform.name_en}")
    value = score.get("verified_score")
    interval = score.get("interval") or [None, None]
    excluded = score.get("excluded") or {}
    total = score.get("total", 0)
    verified = score.get("verified", 0)
    excluded_total = sum(excluded.values())
    items = "".join(
        f"<li>{html.escape(REASON_LABELS_ZH.get(k, k))} ({html.escape(k)}): {int(v)}</li>"
        for k, v in sorted(excluded.items(), key=lambda kv: -kv[1])
    ) or "<li>无 / none</li>"
    shown = "—" if value is None else f"{value:.1f}"
    band = "" if interval[0] is None else f"{interval[0]:.1f}–{interval[1]:.1f}"
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{name} · TrustScope</title>
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;color:#1a1a1a}}
.s{{font-size:28px;font-weight:600}}.st{{color:#e8a400;font-size:20px}}.m{{color:#555;font-size:12px}}
details{{margin-top:6px}}</style></head><body>
<div class="n">{name}</div>
<div><span class="s">{shown}</span> <span class="st">{_stars(value)}</span></div>
<div class="m">经核验评分 Verified score {('· 95% 区间 ' + band) if band else ''}</div>
<div class="m">基于 {verified} 条经核验评价（共 {total} 条；{excluded_total} 条未计入）</div>
<details><summary class="m">未计入的评价及原因 Excluded reviews</summary><ul class="m">{items}</ul></details>
<div class="m">Powered by TrustScope</div></body></html>"""


def install(app: FastAPI, known_platform: Callable[[Request, str], Any],
            score_of: Callable[[Request, str], dict[str, Any]]) -> None:
    @app.get("/widget/{platform_id}.js")
    # registered first: "/widget/{id}" would otherwise swallow "x.js"
    def widget_script(request: Request, platform_id: str) -> Response:
        known_platform(request, platform_id)
        src = str(request.url_for("widget_card", platform_id=platform_id))
        js = ("(function(){var s=document.currentScript;var f=document.createElement('iframe');"
              f"f.src={src!r};f.title='TrustScope verified score';f.style.border='0';"
              "f.width='320';f.height='190';f.loading='lazy';s.parentNode.insertBefore(f,s);})();")
        return Response(js, media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300"})

    @app.get("/widget/{platform_id}", response_class=HTMLResponse)
    def widget_card(request: Request, platform_id: str) -> HTMLResponse:
        platform = known_platform(request, platform_id)
        card = render_card(platform, score_of(request, platform_id))
        return HTMLResponse(card, headers={"Cache-Control": "public, max-age=60"})
