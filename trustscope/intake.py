"""Intake: validated documents in, linked and de-duplicated, onto the first stream.

Shared by the ingest HTTP API and the pollers. De-duplication and publishing happen in one Lua
script per document, so a document is marked as seen *only* if it was also put on the stream: a
crash between the two can never make a retry look like a duplicate and lose the document. A re-post
whose content changed (an edited review) is published again as an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import redis

from trustscope.bus import StreamBus
from trustscope.platforms import PlatformRegistry
from trustscope.schemas import Document, DocumentIn
from trustscope.settings import Settings

INGEST_STREAM = "ingest"

Status = Literal["accepted", "duplicate", "updated"]

_DEDUPE_AND_PUBLISH = """
local old = redis.call('GET', KEYS[1])
if old == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
redis.call('XADD', KEYS[2], '*', 'doc', ARGV[3], 'op', 'index')
if old then return 2 end
return 1
"""
_STATUS: dict[int, Status] = {0: "duplicate", 1: "accepted", 2: "updated"}


class Backpressure(Exception):
    """The pipeline is behind; the client should retry after ``retry_after`` seconds."""

    def __init__(self, backlog: int, limit: int, retry_after: int) -> None:
        super().__init__(f"pipeline backlog {backlog} exceeds {limit}")
        self.backlog = backlog
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    status: Status
    platforms: list[str]


class Intake:
    def __init__(self, client: redis.Redis, settings: Settings, registry: PlatformRegistry | None = None,
                 dedupe_ttl_s: int = 90 * 24 * 3600) -> None:
        self.client = client
        self.settings = settings
        self.bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms)
        self.registry = registry or PlatformRegistry(client, settings.stream_prefix)
        self.dedupe_ttl_s = dedupe_ttl_s
        self._script = client.register_script(_DEDUPE_AND_PUBLISH)

    def check_backpressure(self) -> None:
        backlog = self.bus.backlog(INGEST_STREAM)
        if backlog > self.settings.max_backlog:
            raise Backpressure(backlog, self.settings.max_backlog, retry_after=5)

    def prepare(self, item: DocumentIn) -> Document:
        """Link the document to platforms and build the pipeline document."""
        linker = self.registry.linker()
        platforms = linker.link(item.platforms, str(item.url) if item.url else None, item.title, item.text)
        return item.to_document(platforms)

    def submit(self, items: Sequence[DocumentIn]) -> list[Outcome]:
        """Publish new or changed documents; report each one's fate, in order."""
        docs = [self.prepare(item) for item in items]
        if not docs:
            return []
        stream_key = self.bus.key(INGEST_STREAM)
        pipe = self.client.pipeline(transaction=False)
        for doc in docs:
            seen_key = f"{self.settings.stream_prefix}:seen:{doc.id}"
            self._script(keys=[seen_key, stream_key], args=[doc.content_hash, self.dedupe_ttl_s,
                                                             doc.to_json()], client=pipe)
        codes = pipe.execute()
        return [Outcome(d.id, _STATUS[int(c)], d.platforms) for d, c in zip(docs, codes, strict=True)]


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
