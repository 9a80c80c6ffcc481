"""Fixtures for tests against the real Redis and Elasticsearch started by tests/conftest.py.

Each test gets its own key prefix and index prefix, so tests never see each other's streams,
registry or documents, and nothing needs cleaning between them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from elasticsearch import Elasticsearch

from tests.integration.helpers import API_KEYS, LiveServer, Pipeline, drop_indices, drop_keys
from trustscope.bus import StreamBus
from trustscope.settings import Settings

@pytest.fixture()
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def settings(redis_url: str, es_url: str, prefix: str) -> Settings:
    return Settings(redis_url=redis_url, es_url=es_url, stream_prefix=prefix, es_index_prefix=prefix,
                    api_keys=API_KEYS, claim_idle_ms=400, batch_wait_ms=50, batch_size=128,
                    max_deliveries=3, log_json=False, log_level="WARNING")


@pytest.fixture()
def rclient(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    drop_keys(client, settings.stream_prefix)
    client.close()


@pytest.fixture()
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(settings.es_url, request_timeout=60)
    yield client
    drop_indices(client, settings.es_index_prefix)
    client.close()


@pytest.fixture()
def bus(settings: Settings, rclient: redis.Redis) -> StreamBus:
    return StreamBus(rclient, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms)


@pytest.fixture(scope="session")
def classifier() -> Any:
    """The shipped sentiment model, loaded once for the whole run."""
    from trustscope.sentiment import load_classifier

    return load_classifier(threads=1)


@pytest.fixture()
def live_server() -> Callable[[Any], LiveServer]:
    return LiveServer


@pytest.fixture()
def stages(settings: Settings, rclient: redis.Redis, es: Elasticsearch, classifier: Any) -> list[Any]:
    """Real stages: the shipped sentiment model, the Redis-backed integrity engine, the ES indexer
    with its score hook (the maintained per-platform score state, as services/indexer build() wires it)."""
    from services.indexer.stage import IndexerStage
    from services.integrity.stage import IntegrityStage
    from services.sentiment.stage import SentimentStage
    from trustscope.es import DocIndices
    from trustscope.integrity import IntegrityEngine
    from trustscope.scores import ScoreStore

    indices = DocIndices(settings.es_index_prefix)
    indices.migrate(es)
    engine = IntegrityEngine.from_redis(rclient, prefix=f"{settings.stream_prefix}:int")
    scores = ScoreStore(rclient, settings.stream_prefix)
    return [SentimentStage(classifier), IntegrityStage(engine), IndexerStage(es, indices, scores=scores)]


@pytest.fixture()
def pipeline(settings: Settings, bus: StreamBus, stages: list[Any]) -> Callable[[], Pipeline]:
    return lambda: Pipeline(settings, bus, stages)
