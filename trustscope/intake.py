"""Intake: validated documents in, linked and de-duplicated, onto the first stream.

Shared by the ingest HTTP API and the pollers. De-duplication and publishing happen in one Lua
script call per chunk of documents, so a document is marked as seen *only* if it was also put on the stream: a
crash between the two can never make a retry look like a duplicate and lose the document. A re-post
whose content changed (an edited review) is published again as an update.

Honest acknowledgements: ``submit_lines`` reports every line's fate on its own (published, or why
not), so an unexpected error in one line never loses or hides the others; a Redis outage is
``Unavailable`` (the API answers 503 with Retry-After), and back-pressure looks at the largest
backlog of *every* stage's input stream, not only the first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import redis

from trustscope.bus import StreamBus
from trustscope.observability import get_logger
from trustscope.pipeline_admin import stage_backlogs
from trustscope.platforms import PlatformRegistry
from trustscope.schemas import Document, DocumentIn
from trustscope.settings import Settings

log = get_logger("trustscope.intake")

INGEST_STREAM = "ingest"
#: The input stream of every pipeline stage (sentiment reads ingest, integrity scored, the indexer
#: verified), from the one table of stages: a full stream anywhere means the pipeline is behind.
#: Lines published per script call (one round trip, a few ms of Redis time).
PUBLISH_CHUNK = 500

#: Redis errors that mean "Redis cannot take this now", not "this document is wrong".
REDIS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError, redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError, redis.exceptions.OutOfMemoryError,
)

Status = Literal["accepted", "duplicate", "updated"]

#: One call per chunk: KEYS[1] the first stream, KEYS[1+i] document i's "seen" key; ARGV[1] the TTL,
#: ARGV[2i], ARGV[2i+1] its content hash and JSON. Returns one code per document (see _STATUS).
#: The stream entry is written before the "seen" mark, so a write Redis refuses (-1, OOM) can never
#: leave a document marked seen but unpublished. All keys share the stream prefix, so with a hash
#: tag ({ts}) they are one slot and the call runs unchanged on Redis Cluster (which refuses script
#: calls queued in a cluster pipeline, and keys of several slots in one script).
_DEDUPE_AND_PUBLISH = """
local ttl = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local hash, doc = ARGV[2 * i - 2], ARGV[2 * i - 1]
  local old = redis.call('GET', KEYS[i])
  if old == hash then
    out[i - 1] = 0
  else
    local added = redis.pcall('XADD', KEYS[1], '*', 'doc', doc, 'op', 'index')
    if type(added) == 'table' and added.err then
      out[i - 1] = -1
    else
      redis.pcall('SET', KEYS[i], hash, 'EX', ttl)
      if old then out[i - 1] = 2 else out[i - 1] = 1 end
    end
  end
end
return out
"""
REFUSED = -1
_STATUS: dict[int, Status] = {0: "duplicate", 1: "accepted", 2: "updated"}


class Backpressure(Exception):
    """The pipeline is behind; the client should retry after ``retry_after`` seconds."""

    def __init__(self, stream: str, backlog: int, limit: int, retry_after: int) -> None:
        super().__init__(f"the {stream} stream holds {backlog} messages, over the limit of {limit}")
        self.stream = stream
        self.backlog = backlog
        self.limit = limit
        self.retry_after = retry_after


class Unavailable(redis.exceptions.ConnectionError):
    """Redis cannot be reached (or refuses writes); the client should retry after ``retry_after``.

    A ``redis.ConnectionError`` so callers that already treat Redis errors as transient (the
    pollers) keep doing so.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__("the pipeline store is unavailable")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    status: Status
    platforms: list[str]


@dataclass(frozen=True, slots=True)
class LineFailure:
    """A line that was not published, and whether resending it later can succeed."""

    line: int
    reason: str
    retry: bool


@dataclass(slots=True)
class LinesResult:
    published: list[tuple[int, Outcome]] = field(default_factory=list)
    failed: list[LineFailure] = field(default_factory=list)


class Intake:
    def __init__(self, client: redis.Redis, settings: Settings, registry: PlatformRegistry | None = None,
                 dedupe_ttl_s: int = 90 * 24 * 3600) -> None:
        self.client = client
        self.settings = settings
        self.bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms)
        self.registry = registry or PlatformRegistry(client, settings.stream_prefix)
        self.dedupe_ttl_s = dedupe_ttl_s
        self._script = client.register_script(_DEDUPE_AND_PUBLISH)
        self._backlogs: dict[str, int] = {}
        self._backlogs_at = float("-inf")
        self._lock = threading.Lock()

    # --- back-pressure ---------------------------------------------------------------------
    def backlogs(self) -> dict[str, int]:
        """XLEN of every stage stream, read at most once per ``backlog_check_s`` (one round trip)."""
        now = time.monotonic()
        with self._lock:
            if now - self._backlogs_at < self.settings.backlog_check_s:
                return dict(self._backlogs)
        try:
            lengths = stage_backlogs(self.bus)
        except REDIS_UNAVAILABLE as exc:
            raise Unavailable(self.settings.retry_after_s) from exc
        with self._lock:
            self._backlogs = lengths
            self._backlogs_at = time.monotonic()
            return dict(self._backlogs)

    def check_backpressure(self) -> None:
        """Raise ``Backpressure`` when the largest stage backlog is over ``max_backlog``."""
        backlogs = self.backlogs()
        stream = max(backlogs, key=lambda s: backlogs[s])
        if backlogs[stream] > self.settings.max_backlog:
            raise Backpressure(stream, backlogs[stream], self.settings.max_backlog,
                               retry_after=self.settings.retry_after_s)

    # --- publishing ------------------------------------------------------------------------
    def prepare(self, item: DocumentIn) -> Document:
        """Link the document to platforms and build the pipeline document."""
        try:
            linker = self.registry.linker()
        except REDIS_UNAVAILABLE as exc:
            raise Unavailable(self.settings.retry_after_s) from exc
        platforms = linker.link(item.platforms, str(item.url) if item.url else None, item.title, item.text)
        return item.to_document(platforms)

    def _publish_chunk(self, docs: Sequence[Document]) -> list[int]:
        """De-duplicate and publish ``docs`` in one atomic script call (one round trip); a code per
        document. A direct call, not a pipelined one, so it also runs on Redis Cluster; redis-py's
        Script re-loads the script after a Redis restart (NoScriptError)."""
        prefix = self.settings.stream_prefix
        keys = [self.bus.key(INGEST_STREAM), *(f"{prefix}:seen:{d.id}" for d in docs)]
        args: list[str | int] = [self.dedupe_ttl_s]
        for d in docs:
            args += [d.content_hash, d.to_json()]
        return [int(c) for c in self._script(keys=keys, args=args)]

    def submit(self, items: Sequence[DocumentIn]) -> list[Outcome]:
        """Publish new or changed documents; report each one's fate, in order (all or ``Unavailable``)."""
        docs = [self.prepare(item) for item in items]
        codes: list[int] = []
        try:
            for start in range(0, len(docs), PUBLISH_CHUNK):
                codes += self._publish_chunk(docs[start:start + PUBLISH_CHUNK])
        except REDIS_UNAVAILABLE as exc:
            raise Unavailable(self.settings.retry_after_s) from exc
        if REFUSED in codes:  # Redis refused a write (out of memory): resending all is safe
            raise Unavailable(self.settings.retry_after_s)
        return [Outcome(d.id, _STATUS[c], d.platforms) for d, c in zip(docs, codes, strict=True)]

    def submit_lines(self, items: Sequence[tuple[int, DocumentIn]]) -> LinesResult:
        """Publish numbered documents, reporting each line on its own.

        A line that cannot be prepared (an unexpected error) is reported and the rest go on. Lines
        are published ``PUBLISH_CHUNK`` at a time in one atomic script call that reports each line. Once Redis is unreachable, the lines
        of that chunk and after are reported as not published with ``retry``: some of the chunk may
        have got through before the connection dropped, which is why resending is safe (a re-sent
        published line is a duplicate) and a line is never reported accepted unless it was.
        """
        result = LinesResult()
        prepared: list[tuple[int, Document]] = []
        for line, item in items:
            try:
                prepared.append((line, self.prepare(item)))
            except Unavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - one line's bug must not sink the batch
                log.error("intake.prepare_failed", line=line, error_type=type(exc).__name__, exc_info=True)
                result.failed.append(LineFailure(line, "internal error while preparing this line", False))
        for start in range(0, len(prepared), PUBLISH_CHUNK):
            chunk = prepared[start:start + PUBLISH_CHUNK]
            try:
                codes = self._publish_chunk([doc for _, doc in chunk])
            except REDIS_UNAVAILABLE:
                if not result.published:
                    raise Unavailable(self.settings.retry_after_s) from None
                log.warning("intake.redis_unavailable_mid_batch", published=len(result.published),
                            unpublished=len(prepared) - start)
                result.failed.extend(LineFailure(line, "not published: the pipeline store became "
                                                       "unavailable; resend this line", True)
                                     for line, _ in prepared[start:])
                break
            for (line, doc), code in zip(chunk, codes, strict=True):
                if code == REFUSED:
                    result.failed.append(LineFailure(line, "not published: the pipeline store refused it; "
                                                           "resend this line", True))
                else:
                    result.published.append((line, Outcome(doc.id, _STATUS[code], doc.platforms)))
        result.failed.sort(key=lambda f: f.line)
        return result


def redis_client(settings: Settings) -> redis.Redis:
    """The services' client: a Redis Cluster when ``TS_REDIS_CLUSTER`` (see redis_from_settings)."""
    if settings.redis_cluster:
        from trustscope.bus import redis_from_settings

        return redis_from_settings(settings)  # type: ignore[no-any-return]
    return redis.Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
