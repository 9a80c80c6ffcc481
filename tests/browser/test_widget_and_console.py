"""The widget and the console in headless Chromium, over pipeline-built documents.

Hostile review texts (``<script>``, ``<img onerror>``, ``"><svg onload>``, ``javascript:`` links,
an ``<iframe srcdoc>``) must show as text and run nothing: every test fails on any dialog, console
error or page error. The embedding page is on another origin (``localhost`` vs the gateway's
``127.0.0.1``), so the web component's fetch is a real cross-origin request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.helpers import ADMIN, READER, free_port
from tests.integration.scored_corpus import XSS_TEXTS

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = [pytest.mark.integration, pytest.mark.slow]
PLATFORM = "alipay"


@pytest.fixture()
def host_page() -> Iterator[Callable[[str], str]]:
    """Serve an embedding page from a second local server, on another origin (``localhost`` vs the
    gateway's ``127.0.0.1``): the widget's requests are real cross-origin requests."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pages.get(self.path.split("?")[0])
            if body is None and self.path == "/favicon.ico":
                self.send_response(204)
                self.end_headers()
                return
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def add(html: str) -> str:
        name = f"/host-{len(pages)}.html"
        pages[name] = html.encode()
        return f"http://localhost:{server.server_address[1]}{name}"

    yield add
    server.shutdown()
    server.server_close()


def test_web_component_renders_and_executes_nothing(site, watched, screenshots, host_page):
    base, page = site["url"], watched.page
    url = host_page(f"""<!doctype html><html><head><meta charset="utf-8"><title>shop</title></head>
        <body><h1>A platform&#39;s home page</h1>
        <trustscope-score platform="{PLATFORM}" lang="en"></trustscope-score>
        <script src="{base}/widget/v1/trustscope-score.js"></script></body></html>""")
    page.goto(url)
    page.wait_for_selector("trustscope-score[data-ready]", state="attached", timeout=15_000)
    host = page.locator("trustscope-score")
    score = host.locator(".score").inner_text()
    api = page.request.get(f"{base}/v1/platforms/{PLATFORM}/score").json()
    assert score == f'{api["verified_score"]:.1f}'
    stars = host.locator("svg.stars").first.get_attribute("data-stars")
    assert float(stars) == api["stars"] and float(stars) * 2 == int(float(stars) * 2)
    clip = host.locator("svg.stars").first.locator("clipPath rect").get_attribute("width")
    assert float(clip) == api["stars"] * 24  # half stars: the clip ends mid-star
    dist = host.locator(".dist > div").all_inner_texts()
    assert len(dist) == 5 and sum(int(d.split()[-1]) for d in dist) == api["verified"]
    reviews = host.locator(".rv").all_inner_texts()
    assert 1 <= len(reviews) <= 5
    text = host.locator(".card").inner_text()
    shown = [t for t in XSS_TEXTS if t in text]
    assert shown, "the hostile reviews were expected among the recent verified reviews"
    assert host.locator("img, iframe, script, a[href^='javascript']").count() == 0
    assert "How is this computed" in text
    host.locator("summary").click()
    assert "prior" in host.locator("details").inner_text().lower()
    page.screenshot(path=str(screenshots / "widget-component.png"), full_page=True)
    watched.assert_clean()


def test_iframe_card_and_badge_execute_nothing(site, watched, screenshots, host_page):
    base, page = site["url"], watched.page
    url = host_page(f"""<!doctype html><html><head><meta charset="utf-8"></head><body>
        <script src="{base}/widget/{PLATFORM}.js?lang=zh"></script>
        <img id="badge" src="{base}/widget/{PLATFORM}/badge.svg?lang=zh" alt="badge"></body></html>""")
    page.goto(url)
    frame = page.frame_locator("iframe")
    frame.locator(".score").wait_for(timeout=15_000)
    body = frame.locator("body").inner_text()
    assert "经核验评分" in body and "评分分布" in body
    assert any(t in body for t in XSS_TEXTS)
    assert frame.locator("script:not([type='application/ld+json']), img, iframe, svg[onload]").count() == 0
    assert page.evaluate("document.getElementById('badge').naturalWidth") > 0
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshots / "widget-iframe.png"), full_page=True)
    watched.assert_clean()


REPLY_PLATFORM = "ppdai"  # no other browser test renders its widget, so no cached payload predates the reply
HOSTILE_REPLY = '感谢反馈，已为您处理 <img src=x onerror=alert("reply-xss")><script>alert("reply")</script>'


def test_platform_reply_line_renders_as_text(site, watched, screenshots, host_page):
    """A platform's reply (PUT with its own platform key) shows under its review in the web component
    and in the iframe card, labelled, its markup as text, nothing executed."""
    base, page = site["url"], watched.page
    created = page.request.post(f"{base}/v1/admin/keys", headers=ADMIN, data={
        "label": "ppdai support", "roles": ["platform"], "platforms": [REPLY_PLATFORM]})
    assert created.status == 201, created.text()
    key = created.json()["key"]
    newest = page.request.get(f"{base}/v1/search", headers=READER, params={
        "platform": REPLY_PLATFORM, "kind": "review", "verdict": "verified", "sort": "newest", "size": 1}).json()
    review = newest["documents"][0]
    r = page.request.put(f"{base}/v1/platforms/{REPLY_PLATFORM}/reviews/{review['id']}/reply",
                         headers={"Authorization": f"Bearer {key}"}, data={"text": HOSTILE_REPLY})
    assert r.status == 200, r.text()
    saved = r.json()["text"]  # as stored (normalised: NFKC turns ， into ,)
    assert "<script>" in saved and "onerror" in saved

    url = host_page(f"""<!doctype html><html><head><meta charset="utf-8"></head><body>
        <trustscope-score platform="{REPLY_PLATFORM}" lang="en"></trustscope-score>
        <script src="{base}/widget/v1/trustscope-score.js"></script>
        <script src="{base}/widget/{REPLY_PLATFORM}.js?lang=zh"></script></body></html>""")
    page.goto(url)
    page.wait_for_selector("trustscope-score[data-ready]", state="attached", timeout=15_000)
    host = page.locator("trustscope-score")
    replies = host.locator(".rv .reply")
    assert replies.count() == 1
    item = host.locator(".rv", has=page.locator(".reply"))
    assert review["text"][:20] in item.inner_text()  # under the review it answers
    assert replies.locator("b").inner_text() == "Reply from the platform"
    assert replies.locator("p").inner_text() == saved  # the markup is text
    assert host.locator(".rv img, .rv script").count() == 0

    frame = page.frame_locator("iframe")
    frame.locator(".score").wait_for(timeout=15_000)
    card_reply = frame.locator(".reply")
    assert card_reply.count() == 1 and card_reply.locator("b").inner_text() == "平台回复"
    assert card_reply.locator("p").inner_text() == saved
    assert frame.locator(".reply img, .reply script").count() == 0
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshots / "widget-reply.png"), full_page=True)
    watched.assert_clean()


def test_console_search_and_platform_page(site, watched, screenshots):
    base, page = site["url"], watched.page
    page.goto(f"{base}/console/#/search")
    page.fill("#keyinput", READER["Authorization"].split()[1])
    page.click("#keyform button[type=submit]")
    expect(page.locator("#whoami")).to_contain_text("regulator", timeout=10_000)
    assert page.evaluate("location.href").find("key") < 0  # the key never enters the URL
    assert page.evaluate("sessionStorage.getItem('trustscope.apiKey')") == READER["Authorization"].split()[1]
    page.fill("#searchform input[name=q]", "到账")
    page.click("#searchform button[type=submit]")
    page.wait_for_selector("#results li mark", timeout=15_000)
    marks = page.locator("#results li mark").all_inner_texts()
    assert marks and all("到账" in m for m in marks)
    page.wait_for_selector("#chart-sentiment canvas", timeout=10_000)
    # hostile texts found by search show as text in the console too
    page.fill("#searchform input[name=q]", "alert")
    page.click("#searchform button[type=submit]")
    expect(page.locator("#search-status")).to_contain_text("documents", timeout=10_000)
    page.wait_for_selector("#results li", timeout=10_000)
    assert page.locator("#results img, #results svg, #results iframe, #results script").count() == 0
    assert "<script>" in page.locator("#results").inner_text() or "onerror" in page.locator("#results").inner_text()
    page.screenshot(path=str(screenshots / "console-search.png"), full_page=True)

    page.goto(f"{base}/console/#/platform/{PLATFORM}")
    page.wait_for_selector("#trust-components tbody tr", timeout=15_000)
    api = page.request.get(f"{base}/v1/platforms/{PLATFORM}/page").json()
    assert page.inner_text("#score-value") == f'{api["score"]["verified_score"]:.2f}'
    expected = "—" if api["trust_index"]["index"] is None else f'{api["trust_index"]["index"]:.1f}'
    assert page.inner_text("#trust-value") == expected
    assert page.locator("#trust-components tbody tr").count() == 4
    page.wait_for_selector("#chart-history canvas")
    page.frame_locator("#platform-widget iframe").locator(".score").wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshots / "console-platform.png"), full_page=True)

    # the alert board: a regulator key may not read alerts; the board says so instead of breaking
    page.goto(f"{base}/console/#/alerts")
    expect(page.locator("#live")).to_contain_text("HTTP 403", timeout=10_000)
    # the list request is refused too, and may answer after the stream: wait for both before the
    # errors are cleared, or its console line lands after the clear
    expect(page.locator("#alerts-status")).to_contain_text("alerts unavailable", timeout=10_000)
    assert all("403" in e for e in watched.errors), watched.errors  # only the refused requests
    watched.errors.clear()
    # with an admin key it goes live and shows an alert event as it arrives over SSE
    page.fill("#keyinput", ADMIN["Authorization"].split()[1])
    page.click("#keyform button[type=submit]")
    expect(page.locator("#live")).to_have_text("live", timeout=10_000)
    events = f"{site['settings'].stream_prefix}:al:events"
    for attempt in range(3):  # the stream starts "from now": retry if the first event raced its start
        alert = {"id": f"al-test-{attempt}", "platform": PLATFORM, "level": "high", "status": "open", "severity": 71.5,
                 "volume": 9, "headline": '<img src=x onerror=alert("xss-alert")>听说要暴雷', "last_seen": "2026-12-01T08:00:00Z"}
        site["redis"].xadd(events, {"type": "alert.opened", "alert": alert["id"],
                                    "data": json.dumps({"type": "alert.opened", "alert": alert, "notify": True,
                                                        "at": "2026-12-01T08:00:00Z"})})
        try:
            expect(page.locator(f'#alertlist li[data-alert="{alert["id"]}"]')).to_contain_text("听说要暴雷", timeout=3_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    assert page.locator("#alertlist img").count() == 0
    page.screenshot(path=str(screenshots / "console-alerts.png"), full_page=True)

    # key management (admin): create a platform key, see it listed, revoke it
    page.goto(f"{base}/console/#/keys")
    page.fill("#keycreate input[name=label]", "console test key")
    page.select_option("#keycreate select[name=roles]", ["platform"])
    page.fill("#keycreate input[name=platforms]", PLATFORM)
    page.click("#keycreate button[type=submit]")
    expect(page.locator("#issued")).to_contain_text("shown once", timeout=10_000)
    issued = page.locator("#issued code").inner_text()
    row = page.locator("#keytable tbody tr", has_text="console test key")
    expect(row).to_contain_text("active", timeout=10_000)
    me = page.request.get(f"{base}/v1/keys/me", headers={"Authorization": f"Bearer {issued}"}).json()
    assert me["roles"] == ["platform"] and me["platforms"] == [PLATFORM]
    row.locator("button", has_text="revoke").click()
    expect(page.locator("#keytable tbody tr", has_text="console test key")).to_have_count(0, timeout=10_000)
    assert page.request.get(f"{base}/v1/keys/me", headers={"Authorization": f"Bearer {issued}"}).status == 401
    assert issued not in page.evaluate("location.href")
    watched.assert_clean()
