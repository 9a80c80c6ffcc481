"""Schemathesis against the ingest and gateway OpenAPI, over real HTTP, Redis and Elasticsearch.

Bounded (``MAX_EXAMPLES`` per operation, positive and negative data): no 5xx, no status the
OpenAPI does not document, every response of the documented media type and schema. The request
bodies are in the OpenAPI (the NDJSON batch too, serialised below), so the fuzzer reaches them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.ingest.app import create_app as create_ingest
from tests.integration.helpers import ADMIN
from trustscope.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("TS_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> dict[str, Any]:
    """The batch body is documented as an array of documents; on the wire it is one per line."""
    if isinstance(value, bytes):
        return {"data": value}
    items = value if isinstance(value, list) else [value]
    # stdlib json: the fuzzer's integers may exceed 64 bits, which orjson cannot write
    return {"data": b"\n".join(json.dumps(v, ensure_ascii=False).encode() for v in items)}


def _openapi_schema(create_app: Callable[[Settings], Any]) -> Any:
    """The service's own OpenAPI (built with default settings), fuzzed ``MAX_EXAMPLES`` per operation."""
    schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
    schema.config.generation.update(max_examples=MAX_EXAMPLES)
    return schema


def _gateway_app(settings: Settings) -> Any:
    from services.gateway.app import create_app as create_gateway

    return create_gateway(settings)


ingest_schema = _openapi_schema(create_ingest)
gateway_schema = _openapi_schema(_gateway_app)

conformance_settings = hsettings(
    max_examples=MAX_EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def module_settings(redis_url, es_url):
    """One key/index prefix for all of a module's operations: one server, one index set-up (the
    per-test Elasticsearch clean-up costs seconds on a busy 2-core machine)."""
    import uuid

    import redis
    from elasticsearch import Elasticsearch

    from tests.integration.helpers import API_KEYS, drop_indices, drop_keys

    prefix = f"f{uuid.uuid4().hex[:10]}"
    # the per-key rate limit has its own tests: here it would only turn the fuzzer's requests into 429s
    yield Settings(redis_url=redis_url, es_url=es_url, stream_prefix=prefix, es_index_prefix=prefix,
                   api_keys=API_KEYS, log_json=False, log_level="WARNING",
                   rate_limit_per_s=100_000, rate_limit_burst=100_000)
    client = redis.Redis.from_url(redis_url)
    drop_keys(client, prefix)
    client.close()
    es = Elasticsearch(es_url, request_timeout=60)
    drop_indices(es, prefix)
    es.close()


def _serve(app: Any) -> Iterator[str]:
    from tests.integration.helpers import LiveServer

    with LiveServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def ingest_server(module_settings):
    yield from _serve(create_ingest(module_settings))


@pytest.fixture(scope="module")
def gateway_server(module_settings):
    yield from _serve(_gateway_app(module_settings))


@ingest_schema.exclude(path="/metrics").parametrize()
@conformance_settings
def test_ingest_api_conforms(case, ingest_server):
    case.call_and_validate(base_url=ingest_server, headers=ADMIN, checks=CHECKS)


@gateway_schema.exclude(path="/metrics").parametrize()
@conformance_settings
def test_gateway_api_conforms(case, gateway_server):
    case.call_and_validate(base_url=gateway_server, headers=ADMIN, checks=CHECKS)
