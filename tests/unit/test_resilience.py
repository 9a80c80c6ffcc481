"""Outage classification, backoff bounds, and the indexer's per-item bulk handling (429 items
retried alone, mapping refusals returned at once) against a scripted bulk endpoint."""

from __future__ import annotations

import random
from typing import Any

import pytest
import redis
from elastic_transport import ApiResponseMeta, ConnectionError as TransportConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError, BadRequestError

from trustscope.resilience import ELASTICSEARCH, REDIS, Backoff, DependencyDown, DependencyHealth, dependency_of


def _api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))
    cls = BadRequestError if status == 400 else ApiError
    return cls(message="x", meta=meta, body={})


@pytest.mark.parametrize(("exc", "expected"), [
    (redis.ConnectionError("refused"), REDIS),
    (redis.TimeoutError("slow"), REDIS),
    (redis.BusyLoadingError("LOADING"), REDIS),
    (TransportConnectionError("refused"), ELASTICSEARCH),
    (DependencyDown(ELASTICSEARCH, "429"), ELASTICSEARCH),
    (ValueError("poison"), None),
    (KeyError("doc"), None),
    (redis.ResponseError("WRONGTYPE"), None),
])
def test_dependency_of(exc: BaseException, expected: str | None) -> None:
    assert dependency_of(exc) == expected


@pytest.mark.parametrize(("status", "expected"), [(429, ELASTICSEARCH), (503, ELASTICSEARCH), (400, None), (404, None)])
def test_dependency_of_http_status(status: int, expected: str | None) -> None:
    assert dependency_of(_api_error(status)) == expected


def test_backoff_is_capped_exponential_and_never_near_zero() -> None:
    b = Backoff(base_s=0.5, cap_s=8.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    assert all(0.25 <= d <= 8.0 for d in delays)
    assert delays[0] <= 0.5 and min(delays[6:]) >= 4.0  # grown to the cap, jittered in [cap/2, cap]
    b.reset()
    assert b.next_delay() <= 0.5


class RecordingLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.events.append((event, kw))


def test_health_logs_one_line_per_state_change() -> None:
    rec = RecordingLog()
    h = DependencyHealth("t-stage", (REDIS,), logger=rec)
    for _ in range(50):
        h.down(REDIS, "ConnectionError: refused")
    assert not h.healthy and h.snapshot() == {REDIS: "ConnectionError: refused"}
    h.up(REDIS)
    h.up(REDIS)
    assert [e for e, _ in rec.events] == ["dependency.degraded", "dependency.recovered"]
    assert rec.events[1][1]["failed_attempts"] == 50 and h.healthy


class ScriptedBulk:
    """Answers each bulk request with the next list of per-item statuses."""

    def __init__(self, rounds: list[list[int]]) -> None:
        self.rounds = rounds
        self.calls: list[int] = []

    def bulk(self, operations: list[Any]) -> dict[str, Any]:
        statuses = self.rounds[len(self.calls)]
        self.calls.append(len(operations) // 2)
        items = []
        for status in statuses:
            res: dict[str, Any] = {"status": status}
            if status == 400:
                res["error"] = {"type": "document_parsing_exception", "reason": "failed to parse [author_review_count]"}
            elif status >= 300:
                res["error"] = {"type": "es_rejected_execution_exception", "reason": "queue full"}
            items.append({"index": res})
        return {"items": items}


def _docs(n: int) -> list[dict[str, Any]]:
    return [{"id": f"d{i}", "integrity": {"revision": 0}} for i in range(n)]


def _stage(es: Any) -> Any:
    from services.indexer.stage import IndexerStage
    from trustscope.es import DocIndices

    return IndexerStage(es, DocIndices("unit"), item_retries=3, item_backoff_s=0.001)


def test_bulk_retries_only_the_429_items_and_refuses_mapping_errors_at_once() -> None:
    es = ScriptedBulk([[201, 429, 400, 409, 429], [201, 201]])
    refused = _stage(es)._bulk(_docs(5))
    assert es.calls == [5, 2]  # the second request carries only the two 429 items
    assert list(refused) == ["d2"] and refused["d2"][0] == "document_parsing_exception"


def test_bulk_items_that_keep_failing_become_an_outage_and_are_not_resent_when_done() -> None:
    es = ScriptedBulk([[201, 429], [429], [429], [429], [201]])
    stage = _stage(es)
    with pytest.raises(DependencyDown):
        stage._bulk(_docs(2))
    assert es.calls == [2, 1, 1, 1]
    assert stage._bulk(_docs(2)) == {}  # the held batch again: d0 is already written
    assert es.calls[-1] == 1
