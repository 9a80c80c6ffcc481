"""Embeddable verified-score widgets: the data behind them, how it is cached, and how it is drawn.

One payload per platform (score, rating distribution, a few recent verified reviews with the
platform's replies) feeds four renderings: the iframe card (HTML, no script), the SVG badge, the
JSON the ``<trustscope-score>`` web component draws, and schema.org JSON-LD inside the card.

Caching, in three layers, because a widget sits on a platform's home page:

1. a per-process memo of rendered bytes for ``MEMO_S`` seconds (no I/O on a hit);
2. the last good payload in Redis (``P:widget:last:<platform>``, kept ``LAST_GOOD_S``): fresh for
   ``FRESH_S`` seconds, after which one process (a Redis lock) rebuilds while the others keep serving
   it; when Elasticsearch is down it is served as is (``X-TrustScope-Stale: 1``);
3. HTTP: a strong ETag (304 on If-None-Match) and
   ``Cache-Control: public, max-age=60, stale-while-revalidate=600, stale-if-error=86400``.

The score itself is never stale by more than ``FRESH_S``: it is read from the maintained state
(``trustscope.scores``), which does not need Elasticsearch at all. Every URL the widget emits starts
with ``settings.public_base_url``; nothing is taken from request headers. Review texts are escaped
on the server (HTML, SVG) and set as text nodes in the component. There is deliberately no option to
hide low ratings or filter reviews by stars.
"""

from __future__ import annotations

import base64
import hashlib
import html
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import redis
from elasticsearch import Elasticsearch

from trustscope.observability import get_logger
from trustscope.platforms import Platform
from trustscope.scores import ScoreStore, score_view

log = get_logger("trustscope.gateway.widget")

MEMO_S = 5.0
FRESH_S = 60.0
LAST_GOOD_S = 30 * 86400
LOCK_MS = 10_000
RECENT_REVIEWS = 5
REVIEW_CHARS = 280
ES_TIMEOUT_S = 2.0
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=600, stale-if-error=86400"
LANGS = ("zh", "en")

REASON_LABELS = {
    "zh": {"fake": "判定为虚假", "suspicious": "可疑", "near_duplicate": "重复或模板化内容", "burst": "异常集中发布",
           "new_account": "新注册或单条评价账号", "lockstep": "账号协同评价", "rating_text_mismatch": "评分与内容不符",
           "velocity": "短时间内大量评价", "paid_text": "疑似有偿好评", "unverified": "尚未核验"},
    "en": {"fake": "judged fake", "suspicious": "suspicious", "near_duplicate": "duplicate or template text",
           "burst": "burst of reviews", "new_account": "new or single-review account", "lockstep": "accounts acting in lockstep",
           "rating_text_mismatch": "rating contradicts text", "velocity": "many reviews in a short time",
           "paid_text": "looks like a paid review", "unverified": "not checked yet"},
}
LABELS = {
    "zh": {"verified_score": "经核验评分", "based_on": "基于 {verified} 条经核验评价（共 {total} 条，{excluded} 条未计入）",
           "insufficient": "经核验的评价数量尚不足", "insufficient_counts": "已有 {verified} 条经核验评价，至少需要 {min} 条（共 {total} 条）",
           "distribution": "评分分布（经核验）", "recent": "最近的经核验评价", "reply": "平台回复", "no_reviews": "暂无可显示的评价",
           "how": "评分是如何计算的", "formula": "公式", "interval": "95% 区间", "half_life": "时间衰减半衰期（天）",
           "prior": "先验权重（条）", "excluded": "未计入的评价及原因", "none": "无", "raw_average": "全部评分的简单平均（仅供对比）",
           "powered": "TrustScope 独立核验", "stars": "{value} 星（满分 5 星）", "badge_label": "TrustScope",
           "badge_none": "评价不足", "stale": "数据可能不是最新的", "details": "查看详情"},
    "en": {"verified_score": "Verified score", "based_on": "Based on {verified} verified reviews ({total} in all, {excluded} not counted)",
           "insufficient": "Not enough verified reviews yet", "insufficient_counts": "{verified} verified reviews so far; {min} needed ({total} in all)",
           "distribution": "Rating distribution (verified)", "recent": "Recent verified reviews", "reply": "Reply from the platform",
           "no_reviews": "No reviews to show yet", "how": "How is this computed", "formula": "Formula", "interval": "95% interval",
           "half_life": "Recency half-life (days)", "prior": "Prior weight (reviews)", "excluded": "Reviews not counted, by reason",
           "none": "none", "raw_average": "Plain average of every rating (for comparison)", "powered": "Independently verified by TrustScope",
           "stars": "{value} out of 5 stars", "badge_label": "TrustScope", "badge_none": "not enough reviews",
           "stale": "may not be up to date", "details": "Details"},
}


# --- language ----------------------------------------------------------------------------------
def choose_lang(explicit: str | None, accept_language: str | None) -> str:
    """``lang`` parameter (zh, en, zh-CN, en-GB ...) if given, else the best of Accept-Language, else zh."""
    if explicit:
        head = explicit.strip().lower()[:2]
        if head in LANGS:
            return head
    best, best_q = "zh", -1.0
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        head = tag.strip().lower()[:2]
        if head in LANGS and q - i * 1e-6 > best_q:
            best, best_q = head, q - i * 1e-6
    return best


# --- payload -----------------------------------------------------------------------------------
def recent_reviews(es: Elasticsearch, index: str, platform_id: str) -> list[dict[str, Any]]:
    """The newest verified reviews of a platform (replies are attached by ``attach_replies``)."""
    fast = es.options(request_timeout=ES_TIMEOUT_S, max_retries=0)
    body = fast.search(index=index, size=RECENT_REVIEWS, sort=[{"created_at": "desc"}],
                       query={"bool": {"filter": [{"term": {"platforms": platform_id}}, {"term": {"kind": "review"}},
                                                  {"term": {"integrity.verdict": "verified"}}]}},
                       source=["id", "rating", "title", "text", "created_at", "author_name"]).body
    reviews = []
    for hit in body["hits"]["hits"]:
        src = hit["_source"]
        text = str(src.get("text") or "")
        reviews.append({"id": src.get("id", hit["_id"]), "rating": src.get("rating"), "title": src.get("title"),
                        "text": text[:REVIEW_CHARS] + ("…" if len(text) > REVIEW_CHARS else ""),
                        "created_at": src.get("created_at"), "author_name": src.get("author_name"), "replies": []})
    return reviews


def attach_replies(client: redis.Redis, prefix: str, platform_id: str, reviews: list[dict[str, Any]]) -> None:
    """The platform's own replies (``trustscope.replies``: one per review, kept in Redis, never part
    of the score) under each review they answer."""
    try:
        from trustscope.replies import ReplyStore
    except ImportError:  # replies not installed in this build
        return
    found = ReplyStore(client, prefix).for_documents(platform_id, [r["id"] for r in reviews])
    for r in reviews:
        reply = found.get(r["id"])
        r["replies"] = [] if reply is None else [{
            "text": reply.text[:REVIEW_CHARS] + ("…" if len(reply.text) > REVIEW_CHARS else ""),
            "created_at": reply.created_at.isoformat(),
            "edited_at": reply.edited_at.isoformat() if reply.edited_at else None}]


@dataclass
class Payload:
    data: dict[str, Any]
    stale: bool = False


class WidgetData:
    """Builds and caches widget payloads (layers 1-2 of the module docstring)."""

    def __init__(self, client: redis.Redis, es: Elasticsearch, index: str, prefix: str, min_verified: int) -> None:
        self.client = client
        self.es = es
        self.index = index
        self.prefix = prefix
        self.min_verified = min_verified
        self.store = ScoreStore(client, prefix)
        self._memo: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def last_key(self, platform_id: str) -> str:
        return f"{self.prefix}:widget:last:{platform_id}"

    # layer 1: rendered bytes per (kind, platform, lang, ...) for MEMO_S
    def memo_get(self, key: tuple[str, ...]) -> Any:
        hit = self._memo.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def memo_put(self, key: tuple[str, ...], value: Any, ttl: float = MEMO_S) -> None:
        with self._lock:
            if len(self._memo) > 10_000:
                self._memo.clear()
            self._memo[key] = (time.monotonic() + ttl, value)

    # layer 2: the last good payload in Redis
    def payload(self, platform: Platform) -> Payload:
        raw = self.client.get(self.last_key(platform.id))
        last = orjson.loads(raw) if raw else None
        if last is not None and time.time() - last.get("built_at", 0) < FRESH_S:
            return Payload(last)
        if last is not None and not self.client.set(f"{self.prefix}:widget:lock:{platform.id}", b"1",
                                                    nx=True, px=LOCK_MS):
            return Payload(last)  # another process is rebuilding it; serve the previous one meanwhile
        try:
            reviews = recent_reviews(self.es, self.index, platform.id)
            attach_replies(self.client, self.prefix, platform.id, reviews)
        except Exception as exc:  # noqa: BLE001 - any search failure: keep serving what we had
            log.warning("widget.search_unavailable", platform=platform.id, error=type(exc).__name__)
            if last is not None:
                return Payload(last, stale=True)
            reviews = None
        data = self.build(platform, reviews)
        if reviews is not None:
            self.client.set(self.last_key(platform.id), orjson.dumps(data), ex=LAST_GOOD_S)
        self.client.delete(f"{self.prefix}:widget:lock:{platform.id}")
        return Payload(data, stale=reviews is None)

    def build(self, platform: Platform, reviews: list[dict[str, Any]] | None) -> dict[str, Any]:
        view = score_view(platform.id, self.store.state(platform.id), min_verified=self.min_verified)
        return {"platform": {"id": platform.id, "name_zh": platform.name_zh, "name_en": platform.name_en},
                "score": view.to_dict(), "reviews": reviews or [], "reviews_available": reviews is not None,
                "built_at": time.time()}


# --- rendering ---------------------------------------------------------------------------------
def etag_of(body: bytes) -> str:
    return '"' + base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:15]).decode() + '"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(template: str, **kw: Any) -> str:
    return template.format(**kw)


def excluded_total(score: dict[str, Any]) -> int:
    return int(sum(score.get("excluded", {}).values()))


STAR_PATH = "M12 2l3.09 6.26L22 9.27l-5 4.87 1.18 6.88L12 17.77l-6.18 3.25L7 14.14 2 9.27l6.91-1.01z"


def stars_svg(stars: float | None, size: int = 18, uid: str = "s") -> str:
    """Five stars, the first ``stars`` (half steps) filled: one clip rectangle, so 4.5 is exact."""
    filled = 0.0 if stars is None else max(0.0, min(5.0, float(stars)))
    row = "".join(f'<path transform="translate({24 * k} 0)" d="{STAR_PATH}"/>' for k in range(5))
    return (f'<svg class="stars" width="{size * 5}" height="{size}" viewBox="0 0 120 24" aria-hidden="true" '
            f'data-stars="{filled:g}"><defs><clipPath id="{uid}"><rect width="{filled * 24:g}" height="24"/></clipPath></defs>'
            f'<g fill="#d9d9d9">{row}</g><g fill="#e8a400" clip-path="url(#{uid})">{row}</g></svg>')


CARD_CSS = (
    "body{font:14px/1.45 system-ui,'Noto Sans CJK SC',sans-serif;margin:0;padding:12px;color:#1a1a1a;background:#fff}"
    "h1{font-size:15px;margin:0 0 6px}.score{font-size:30px;font-weight:650;margin-right:6px}.row{display:flex;align-items:center;gap:6px}"
    ".m{color:#555;font-size:12px}.none{font-size:16px;font-weight:600}.dist{margin:8px 0;border-collapse:collapse}"
    ".dist td{padding:0 4px 0 0;font-size:12px;color:#555}.rv{border-top:1px solid #eee;padding:6px 0}.rv p{margin:2px 0;white-space:pre-wrap;word-break:break-word}"
    ".reply{margin:4px 0 0 12px;padding-left:8px;border-left:3px solid #cfe0ff;font-size:13px}"
    "details{margin-top:8px}summary{cursor:pointer;color:#0b57d0;font-size:12px}code{font-size:11px;white-space:pre-wrap;word-break:break-word}"
    "a{color:#0b57d0}.stale{color:#a15c00}"
)
CARD_CSS_HASH = base64.b64encode(hashlib.sha256(CARD_CSS.encode()).digest()).decode()
CARD_CSP = (f"default-src 'none'; style-src 'sha256-{CARD_CSS_HASH}'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors *")
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def page_url(base_url: str, platform_id: str) -> str:
    return f"{base_url}/console/#/platform/{platform_id}"


def json_ld(platform: dict[str, Any], score: dict[str, Any], base_url: str) -> str:
    """schema.org AggregateRating, only for a score that is shown (empty string otherwise)."""
    if score.get("status") != "ok" or score.get("verified_score") is None:
        return ""
    data = {"@context": "https://schema.org", "@type": "AggregateRating",
            "itemReviewed": {"@type": "Organization", "name": platform["name_zh"], "alternateName": platform["name_en"],
                             "url": page_url(base_url, platform["id"])},
            "ratingValue": round(score["verified_score"], 2), "bestRating": 5, "worstRating": 1,
            "ratingCount": score["verified"], "reviewCount": score["verified"]}
    text = orjson.dumps(data).decode().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/ld+json">{text}</script>'


def distribution_rows(score: dict[str, Any]) -> str:
    dist = score.get("distribution") or {}
    total = max(1, sum(dist.values()))
    rows = []
    for k in ("5", "4", "3", "2", "1"):
        n = int(dist.get(k, 0))
        width = round(100 * n / total, 1)
        rows.append(f'<tr><td>{k}★</td><td><svg width="100" height="8" aria-hidden="true"><rect width="100" height="8" '
                    f'fill="#eee"/><rect width="{width}" height="8" fill="#e8a400"/></svg></td><td>{n}</td></tr>')
    return "".join(rows)


def render_card(data: dict[str, Any], lang: str, base_url: str, stale: bool = False) -> str:
    """The iframe card: self-contained HTML, no script, every dynamic string escaped."""
    t, reasons = LABELS[lang], REASON_LABELS[lang]
    p, s = data["platform"], data["score"]
    name = p["name_zh"] if lang == "zh" else p["name_en"]
    other = p["name_en"] if lang == "zh" else p["name_zh"]
    excl = excluded_total(s)
    if s["status"] == "ok":
        head = (f'<div class="row"><span class="score">{s["verified_score"]:.1f}</span>{stars_svg(s["stars"], 20, "top")}'
                f'<span class="m">{_e(_fmt(t["stars"], value=s["stars"]))}</span></div>'
                f'<div class="m">{_e(t["verified_score"])} · {_e(t["interval"])} {s["interval"][0]:.1f}–{s["interval"][1]:.1f}</div>'
                f'<div class="m">{_e(_fmt(t["based_on"], verified=s["verified"], total=s["total"], excluded=excl))}</div>')
    else:
        head = (f'<div class="none" data-status="insufficient">{_e(t["insufficient"])}</div>'
                f'<div class="m">{_e(_fmt(t["insufficient_counts"], verified=s["verified"], min=s["min_verified"], total=s["total"]))}</div>')
    reviews = []
    for i, r in enumerate(data.get("reviews") or []):
        replies = "".join(f'<div class="reply"><b>{_e(t["reply"])}</b><p>{_e(x["text"])}</p></div>' for x in r.get("replies", []))
        title = f'<b>{_e(r["title"])}</b>' if r.get("title") else ""
        reviews.append(f'<div class="rv">{stars_svg(r.get("rating"), 13, f"r{i}")} <span class="m">'
                       f'{_e(str(r.get("created_at") or "")[:10])}</span>{title}<p>{_e(r["text"])}</p>{replies}</div>')
    excluded_items = "".join(f"<li>{_e(reasons.get(k, k))} ({_e(k)}): {int(v)}</li>"
                             for k, v in sorted(s.get("excluded", {}).items(), key=lambda kv: -kv[1])) or f"<li>{_e(t['none'])}</li>"
    raw = "—" if s.get("raw_average") is None else f'{s["raw_average"]:.2f}'
    interval = "—" if not s.get("interval") else f'{s["interval"][0]:.2f}–{s["interval"][1]:.2f}'
    stale_note = f'<div class="m stale">{_e(t["stale"])}</div>' if stale else ""
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(name)} · TrustScope</title>'
            f'<style>{CARD_CSS}</style>{json_ld(p, s, base_url)}</head><body>'
            f'<h1>{_e(name)} <span class="m">{_e(other)}</span></h1>{head}'
            f'<div class="m">{_e(t["distribution"])}</div>'
            f'<table class="dist" aria-label="{_e(t["distribution"])}">{distribution_rows(s)}</table>'
            f'<div class="m">{_e(t["recent"])}</div>{"".join(reviews) or "<p class=m>" + _e(t["no_reviews"]) + "</p>"}'
            f'<details><summary>{_e(t["how"])}</summary><div class="m">'
            f'<p>{_e(t["formula"])}: <code>{_e(s["formula"])}</code></p>'
            f'<p>{_e(t["interval"])}: {interval} · {_e(t["half_life"])}: {s["half_life_days"]:g} · {_e(t["prior"])}: {s["prior_weight"]:g}</p>'
            f'<p>{_e(t["excluded"])}:</p><ul>{excluded_items}</ul><p>{_e(t["raw_average"])}: {raw}</p></div></details>'
            f'{stale_note}<p class="m"><a href="{_e(page_url(base_url, p["id"]))}" target="_blank" rel="noopener">'
            f'{_e(t["details"])}</a> · {_e(t["powered"])}</p></body></html>')


def render_badge(data: dict[str, Any], lang: str) -> str:
    """A shields-style SVG badge: 'TrustScope | 4.3 ★ 128' or 'TrustScope | not enough reviews'."""
    t, s = LABELS[lang], data["score"]
    if s["status"] == "ok":
        value = f'{s["verified_score"]:.1f} ★ ({s["verified"]})'
    else:
        value = t["badge_none"]
    label = t["badge_label"]

    def width(text: str) -> int:
        return int(sum(12 if ord(ch) > 0x2E80 else 7 for ch in text)) + 12

    lw, vw = width(label), width(value)
    total = lw + vw
    title = f'{label}: {value}'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{_e(title)}">'
            f'<title>{_e(title)}</title><rect width="{lw}" height="20" fill="#555"/>'
            f'<rect x="{lw}" width="{vw}" height="20" fill="{"#2e7d32" if s["status"] == "ok" else "#9e9e9e"}"/>'
            f'<g fill="#fff" font-family="Verdana,\'Noto Sans CJK SC\',sans-serif" font-size="11">'
            f'<text x="6" y="14">{_e(label)}</text><text x="{lw + 6}" y="14">{_e(value)}</text></g></svg>')


def render_json(data: dict[str, Any], lang: str, base_url: str, stale: bool = False) -> dict[str, Any]:
    """What the web component draws: the payload plus localized labels and base-URL links."""
    pid = data["platform"]["id"]
    return {**data, "lang": lang, "stale": stale, "labels": LABELS[lang], "reason_labels": REASON_LABELS[lang],
            "links": {"page": page_url(base_url, pid), "card": f"{base_url}/widget/{pid}?lang={lang}",
                      "badge": f"{base_url}/widget/{pid}/badge.svg?lang={lang}"}}
