"""Documents for gateway tests, built by the real pipeline: Intake -> sentiment (the shipped model)
-> integrity (Redis engine) -> indexer -> Elasticsearch. Module-scoped, so a test module pays for the
pipeline once; each corpus has its own key and index prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import redis
from elasticsearch import Elasticsearch

from tests.integration.helpers import API_KEYS, Pipeline, drop_indices, drop_keys, wait_until
from trustscope.bus import StreamBus
from trustscope.es import DocIndices
from trustscope.intake import Intake
from trustscope.platforms import PlatformRegistry
from trustscope.schemas import DocumentIn
from trustscope.settings import Settings

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def item(i: int, text: str, platform: str, rating: int | None = 5, kind: str = "review",
         hours_ago: float = 1.0, author: str | None = None, source: str = "gw-test") -> dict[str, Any]:
    return {"kind": kind, "source": source, "source_id": str(i), "text": text, "platforms": [platform],
            "rating": rating if kind == "review" else None,
            "author": {"id": author or f"a{i}", "review_count": 12,
                       "created_at": (NOW - timedelta(days=400)).isoformat()},
            "created_at": (NOW - timedelta(hours=hours_ago)).isoformat()}


@dataclass
class Corpus:
    settings: Settings
    es: Elasticsearch
    redis: redis.Redis
    indices: DocIndices
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # source_id -> indexed _source

    def count(self, **term: str) -> int:
        flt = [{"term": {k.replace("__", "."): v}} for k, v in term.items()]
        return int(self.es.count(index=self.indices.read_alias, query={"bool": {"filter": flt}})["count"])


@contextmanager
def pipeline_corpus(redis_url: str, es_url: str, classifier: Any, items: list[dict[str, Any]],
                    **overrides: Any) -> Iterator[Corpus]:
    from services.indexer.stage import IndexerStage
    from services.integrity.stage import IntegrityStage
    from services.sentiment.stage import SentimentStage
    from trustscope.integrity import IntegrityEngine

    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = Settings(redis_url=redis_url, es_url=es_url, stream_prefix=prefix, es_index_prefix=prefix,
                        api_keys=API_KEYS, claim_idle_ms=400, batch_wait_ms=50, batch_size=128,
                        max_deliveries=3, log_json=False, log_level="WARNING", **overrides)
    client = redis.Redis.from_url(redis_url)
    es = Elasticsearch(es_url, request_timeout=60)
    indices = DocIndices(prefix)
    try:
        indices.migrate(es)
        registry = PlatformRegistry(client, prefix)
        registry.seed_defaults()
        bus = StreamBus(client, prefix, settings.max_deliveries, settings.claim_idle_ms)
        engine = IntegrityEngine.from_redis(client, prefix=f"{prefix}:int")
        stages = [SentimentStage(classifier), IntegrityStage(engine), IndexerStage(es, indices)]
        Intake(client, settings, registry).submit([DocumentIn.model_validate(i) for i in items])
        with Pipeline(settings, bus, stages):
            def indexed() -> bool:
                es.indices.refresh(index=indices.read_alias)
                return int(es.count(index=indices.read_alias)["count"]) >= len(items)

            wait_until(indexed, timeout=180)
        hits = es.search(index=indices.read_alias, size=len(items) + 10)["hits"]["hits"]
        corpus = Corpus(settings, es, client, indices, {h["_source"]["source_id"]: h["_source"] for h in hits})
        yield corpus
    finally:
        drop_keys(client, prefix)
        drop_indices(es, prefix)
        client.close()
        es.close()


@contextmanager
def gateway_client(settings: Settings, timeout: float = 60) -> Iterator[httpx.Client]:
    """An HTTP client of a live gateway (real sockets) serving ``settings``' corpus."""
    from services.gateway.app import create_app
    from tests.integration.helpers import LiveServer

    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=timeout) as client:
        yield client
