"""Real processes for the fault suite: worker services, private Redis/Elasticsearch nodes, a proxy.

Why real processes: what the fault suite proves (nothing acknowledged is lost when a process is
killed -9 or a server restarts) depends on sockets, process death and server persistence, which
threads and fakes do not have. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

import httpx
import redis
from elasticsearch import Elasticsearch

from tests.integration.helpers import free_port, wait_until
from trustscope.bus import StreamBus
from trustscope.samples import reviews
from trustscope.schemas import DocumentIn
from trustscope.settings import Settings

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "infra" / "local"
STAGES = (("ingest", "sentiment"), ("scored", "integrity"), ("verified", "indexer"))


def script(name: str, action: str, env: dict[str, str], timeout: float = 240) -> None:
    proc = subprocess.run(["bash", str(LOCAL / name), action], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} {action} failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")


@dataclass
class _PrivateNode:
    """A server started and stopped by one of the infra/local scripts, on a port of its own."""

    kind: ClassVar[str]  # the test-owner file's name (tests.conftest._claim_port)
    script_name: ClassVar[str]
    port_env: ClassVar[str]
    wipe_env: ClassVar[str]
    start_timeout: ClassVar[float]
    stop_timeout: ClassVar[float]

    port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        return {self.port_env: str(self.port)}

    def start(self, wipe: bool = False) -> None:
        script(self.script_name, "start", {**self.env, self.wipe_env: "1" if wipe else "0"}, self.start_timeout)

    def stop(self) -> None:
        script(self.script_name, "stop", self.env, self.stop_timeout)


@dataclass
class PrivateRedis(_PrivateNode):
    """A Redis of this test alone, with AOF (fsync every second), on its own port."""

    kind: ClassVar[str] = "redis"
    script_name: ClassVar[str] = "redis.sh"
    port_env: ClassVar[str] = "TS_LOCAL_REDIS_PORT"
    wipe_env: ClassVar[str] = "TS_LOCAL_REDIS_WIPE"
    start_timeout: ClassVar[float] = 60
    stop_timeout: ClassVar[float] = 60

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "TS_LOCAL_REDIS_AOF": "yes"}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class PrivateES(_PrivateNode):
    """An Elasticsearch node of one test module (a start costs 20-40 s of CPU: start it once)."""

    kind: ClassVar[str] = "elasticsearch"
    script_name: ClassVar[str] = "elasticsearch.sh"
    port_env: ClassVar[str] = "TS_LOCAL_ES_PORT"
    wipe_env: ClassVar[str] = "TS_LOCAL_ES_WIPE"
    start_timeout: ClassVar[float] = 300
    stop_timeout: ClassVar[float] = 120

    heap: str = "512m"

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "TS_LOCAL_ES_HEAP": self.heap, "TS_LOCAL_ES_TIMEOUT": "240"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


Node = TypeVar("Node", bound=_PrivateNode)


@contextmanager
def private_node(node_type: type[Node], preferred_port: int) -> Iterator[Node]:
    """A wiped private node on a port this run claims (so parallel runs never share one), stopped
    and the claim released afterwards."""
    from tests.conftest import _claim_port

    port, owner = _claim_port(node_type.kind, preferred_port, node_type.script_name, node_type.port_env)
    node = node_type(port=port)
    try:
        node.start(wipe=True)
        yield node
    finally:
        node.stop()
        owner.unlink(missing_ok=True)


class WorkerProcess:
    """``python -m services.<name>`` with its own env, log file and metrics port."""

    def __init__(self, name: str, settings: Settings, log_dir: Path, extra: dict[str, str] | None = None,
                 code_dir: Path = REPO) -> None:
        self.name = name
        self.code_dir = code_dir
        self.metrics_port = free_port()
        self.log_path = log_dir / f"{name}-{self.metrics_port}.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(code_dir),
            "TS_REDIS_URL": settings.redis_url, "TS_ES_URL": settings.es_url,
            "TS_STREAM_PREFIX": settings.stream_prefix, "TS_ES_INDEX_PREFIX": settings.es_index_prefix,
            "TS_CLAIM_IDLE_MS": str(settings.claim_idle_ms), "TS_MAX_DELIVERIES": str(settings.max_deliveries),
            "TS_BATCH_SIZE": str(settings.batch_size), "TS_BATCH_WAIT_MS": str(settings.batch_wait_ms),
            "TS_OUTAGE_BACKOFF_BASE_MS": str(settings.outage_backoff_base_ms),
            "TS_OUTAGE_BACKOFF_MAX_MS": str(settings.outage_backoff_max_ms),
            "TS_METRICS_PORT": str(self.metrics_port), "TS_LOG_JSON": "true", "TS_LOG_LEVEL": "INFO",
            "TS_TORCH_THREADS": "1", **(extra or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", f"services.{self.name}"], cwd=self.code_dir, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def readyz(self) -> tuple[int, dict[str, Any]]:
        try:
            r = httpx.get(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2)
            return r.status_code, r.json()
        except (httpx.HTTPError, ValueError):
            return 0, {}

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log_tail()
            return self.readyz()[0] == 200

        try:
            wait_until(ready, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError(f"{self.name} not ready in {timeout}s:\n{self.log_tail()}") from None

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples matching ``labels`` (0 when absent)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_bytes(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log_lines()[-n:])


def sample_inputs(n: int, source: str, seed: int = 3) -> list[DocumentIn]:
    return [DocumentIn.model_validate(r) for r in reviews(n, seed=seed, source=source)]


def verified_messages(items: Iterable[DocumentIn]) -> list[dict[str, str]]:
    """Documents as the integrity stage hands them to the indexer (for indexer-only tests)."""
    return [{"doc": item.to_document([]).to_json(), "op": "index"} for item in items]


def indexed_ids(es: Elasticsearch, alias: str) -> list[str]:
    """Every document id in the index (one scroll-free search: these tests stay under 10,000)."""
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=10_000, source=False, query={"match_all": {}})["hits"]["hits"]
    return [h["_id"] for h in hits]


def wait_indexed(es: Elasticsearch, alias: str, expected: int, timeout: float) -> None:
    def done() -> bool:
        try:
            es.indices.refresh(index=alias)
            return es.count(index=alias)["count"] >= expected
        except Exception:  # noqa: BLE001 - index not created yet, or the node still starting
            return False

    wait_until(done, timeout=timeout, interval=0.5)


def assert_pipeline_drained(client: redis.Redis, bus: StreamBus, stages: Iterable[tuple[str, str]] = STAGES) -> None:
    for stream, group in stages:
        if client.exists(bus.key(stream)):
            assert client.xpending(bus.key(stream), group)["pending"] == 0, f"{group} has pending messages"
            assert client.xlen(bus.key(stream)) == 0, f"{stream} not drained"
    assert bus.backlog("dead") == 0, [d.error for d in bus.dead_letters(5)]


class FaultProxy:
    """A tiny asyncio TCP proxy in front of Elasticsearch that can delay or answer 429.

    mode "pass": forward bytes; "429": answer every request with HTTP 429 without forwarding;
    "slow": forward after ``delay_s``; "down": close every connection at once (a stopped node). Counts the requests it saw, so a test can tell backoff
    (a handful of requests) from a busy loop (hundreds).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.mode = "pass"
        self.delay_s = 0.0
        self.requests = 0
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def _shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(_shutdown(), self._loop)
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        return head + body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        if self.mode == "down":
            self.refused += 1
            writer.close()
            return
        try:
            while True:
                request = await self._read_request(reader)
                self.requests += 1
                if self.mode == "down":
                    return
                if self.mode == "429":
                    self.refused += 1
                    body = b'{"error":{"type":"es_rejected_execution_exception","reason":"proxy"},"status":429}'
                    writer.write(b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                                 b"X-Elastic-Product: Elasticsearch\r\n"
                                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                    await writer.drain()
                    continue
                if self.mode == "slow":
                    await asyncio.sleep(self.delay_s)
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                up_reader, up_writer = upstream
                up_writer.write(request)
                await up_writer.drain()
                head = await up_reader.readuntil(b"\r\n\r\n")
                length, chunked = 0, False
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                    if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                        chunked = True
                body = b""
                if request.startswith(b"HEAD "):
                    pass  # a HEAD answer names the length of a body it does not send
                elif chunked:
                    while True:
                        size_line = await up_reader.readuntil(b"\r\n")
                        size = int(size_line.split(b";")[0], 16)
                        chunk = await up_reader.readexactly(size + 2)
                        body += size_line + chunk
                        if size == 0:
                            break
                elif length:
                    body = await up_reader.readexactly(length)
                writer.write(head + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            writer.close()
            if upstream is not None:
                upstream[1].close()


class Connections(NamedTuple):
    """What a fault test talks to the pipeline through: its Redis, its streams and its index."""

    client: redis.Redis
    bus: StreamBus
    es: Elasticsearch


def connect(settings: Settings) -> Connections:
    """Clients of ``settings``' Redis and Elasticsearch (the caller closes them)."""
    client = redis.Redis.from_url(settings.redis_url)
    return Connections(client, StreamBus(client, settings.stream_prefix, settings.max_deliveries,
                                         settings.claim_idle_ms),
                       Elasticsearch([h.strip() for h in settings.es_url.split(",")], request_timeout=30))


def settings_for(redis_url: str, es_url: str, prefix: str, **over: Any) -> Settings:
    base: dict[str, Any] = dict(redis_url=redis_url, es_url=es_url, stream_prefix=prefix, es_index_prefix=prefix,
                                claim_idle_ms=500, max_deliveries=3, batch_size=64, batch_wait_ms=50,
                                outage_backoff_base_ms=200, outage_backoff_max_ms=2000, log_json=False,
                                log_level="WARNING")
    base.update(over)
    return Settings(**base)


def run_for(fn: Callable[[], Any], seconds: float, interval: float = 0.2) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        fn()
        time.sleep(interval)
