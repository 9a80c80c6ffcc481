"""Real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against a live gateway
whose documents went through the real pipeline. One corpus and one gateway per module.

Screenshots go to ``$TS_ARTIFACTS_DIR/screenshots`` (CI keeps that folder), else
``~/.cache/trustscope/artifacts/screenshots``; the path is printed in the test output.
Skips (fails under CI) when Playwright or Chromium is missing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from elasticsearch import Elasticsearch

from tests.integration.helpers import API_KEYS, LiveServer, Pipeline, drop_indices, drop_keys
from trustscope.settings import Settings

CHROMIUM = os.environ.get("TS_CHROMIUM", "/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    base = Path(os.environ.get("TS_ARTIFACTS_DIR") or Path.home() / ".cache" / "trustscope" / "artifacts")
    path = base / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Module-scoped, not session-scoped: while Playwright's sync API is started, the main thread's
    asyncio loop counts as running (its greenlets share the thread), so a later suite's
    ``asyncio.run`` would fail with "cannot be called from a running event loop"."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright; no browser download needed)")
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@dataclass
class Watched:
    """A page with every dialog, console error and page error it produced."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"a dialog opened (script ran): {self.dialogs}"
        assert self.errors == [], f"console/page errors: {self.errors}"


@pytest.fixture()
def watched(chromium: Any) -> Iterator[Watched]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    w = Watched(page)

    def on_dialog(d: Any) -> None:
        w.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: w.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: w.errors.append(f"pageerror: {e}"))
    yield w
    context.close()


@pytest.fixture(scope="module")
def site(redis_url: str, es_url: str) -> Iterator[dict[str, Any]]:
    """Sample and hostile reviews through the real pipeline; a live gateway over them."""
    from services.gateway.app import create_app
    from services.indexer.stage import IndexerStage
    from services.integrity.stage import IntegrityStage
    from services.sentiment.stage import SentimentStage
    from tests.integration.scored_corpus import hostile_reviews, run_corpus
    from trustscope.bus import StreamBus
    from trustscope.es import DocIndices
    from trustscope.integrity import IntegrityEngine
    from trustscope.sentiment import load_classifier

    prefix = f"b{uuid.uuid4().hex[:10]}"
    settings = Settings(redis_url=redis_url, es_url=es_url, stream_prefix=prefix, es_index_prefix=prefix,
                        api_keys=API_KEYS, claim_idle_ms=400, batch_wait_ms=50, batch_size=128, max_deliveries=3,
                        log_json=False, log_level="WARNING", score_min_verified=5)
    client = redis.Redis.from_url(redis_url)
    es = Elasticsearch(es_url, request_timeout=60)
    indices = DocIndices(prefix)
    indices.migrate(es)
    engine = IntegrityEngine.from_redis(client, prefix=f"{prefix}:int")
    stages = [SentimentStage(load_classifier(threads=1)), IntegrityStage(engine), IndexerStage(es, indices)]
    bus = StreamBus(client, prefix, settings.max_deliveries, settings.claim_idle_ms)
    try:
        run_corpus(settings, client, es, stages, lambda: Pipeline(settings, bus, stages),
                   extra=hostile_reviews("alipay"))
        app = create_app(settings)
        server = LiveServer(app)
        settings.public_base_url = server.url  # widgets emit URLs from this setting only
        with server:
            yield {"url": server.url, "settings": settings, "es": es, "redis": client}
    finally:
        drop_keys(client, prefix)
        drop_indices(es, prefix)
        es.close()
        client.close()
