"""Structured logs and Prometheus metrics shared by every service.

Logs are JSON lines (one event, key=value context) so they can be shipped as they are; set
``TS_LOG_JSON=false`` for human-readable console output. Metric names start with ``trustscope_``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
import sys

import structlog
from prometheus_client import Counter, Gauge, Histogram

STAGE_MESSAGES = Counter("trustscope_stage_messages_total", "Stream messages handled by a stage",
                         ["stage", "outcome"])
STAGE_BATCH_SECONDS = Histogram("trustscope_stage_batch_seconds", "Time to process one micro-batch",
                                ["stage"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
STAGE_BATCH_SIZE = Histogram("trustscope_stage_batch_size", "Messages per micro-batch", ["stage"],
                             buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000))
STREAM_BACKLOG = Gauge("trustscope_stream_backlog", "Unacknowledged messages in a stream", ["stream"])
INGEST_DOCUMENTS = Counter("trustscope_ingest_documents_total", "Documents offered to ingest",
                           ["outcome"])
INDEXED_DOCUMENTS = Counter("trustscope_indexed_documents_total", "Documents written to Elasticsearch",
                            ["op"])
STREAM_LAG = Gauge("trustscope_stream_lag", "Entries a stage's consumer group has not read yet", ["stage"])
STREAM_PENDING = Gauge("trustscope_stream_pending", "Entries read by a stage but not acknowledged", ["stage"])
DEAD_LETTERS = Counter("trustscope_dead_letters_total", "Messages a stage moved to the dead-letter stream",
                       ["stage", "reason"])
DEPENDENCY_UP = Gauge("trustscope_dependency_up", "1 while a stage can reach a dependency, 0 in an outage",
                      ["stage", "dependency"])
OUTAGE_RETRIES = Counter("trustscope_outage_retries_total", "Backoff waits of a stage during outages",
                         ["stage", "dependency"])
WORKER_READY = Gauge("trustscope_worker_ready", "1 while the worker takes work", ["stage"])
BULK_ITEM_ERRORS = Counter("trustscope_bulk_item_errors_total", "Bulk items Elasticsearch refused",
                           ["kind"])  # kind: retried (429/5xx), rejected (mapping etc.)
MODEL_SECONDS = Histogram("trustscope_model_seconds", "Model inference time per micro-batch", ["model"],
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route stdlib and structlog logging to stderr as JSON (or console) lines."""
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    for noisy in ("httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # the client logs every failed attempt (with a traceback) during an outage; the worker logs
    # the outage itself, once
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


class WorkerHTTP:
    """A worker's HTTP side on ``TS_METRICS_PORT``: ``/metrics``, ``/healthz`` (alive) and ``/readyz``.

    Why not prometheus_client.start_http_server alone: it answers 200 on every path, so nothing
    could tell a worker waiting out an outage (or still loading its model) from one taking work.
    ``/readyz`` is 200 only while the loop takes work, 503 with the dependency that is down otherwise.
    """

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        self.status: Callable[[], dict[str, object]] = lambda: {"ready": False, "starting": True}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    code, body, ctype = 200, b'{"status":"ok"}', "application/json"
                elif path == "/readyz":
                    status = outer.status()
                    code = 200 if status.get("ready") else 503
                    body, ctype = json.dumps(status).encode(), "application/json"
                else:
                    code, body, ctype = 200, generate_latest(), CONTENT_TYPE_LATEST
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:  # no access log lines per scrape
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="worker-http")
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
