"""Structured logs and Prometheus metrics shared by every service.

Logs are JSON lines (one event, key=value context) so they can be shipped as they are; set
``TS_LOG_JSON=false`` for human-readable console output. Metric names start with ``trustscope_``.
"""

from __future__ import annotations

import logging
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


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route stdlib and structlog logging to stderr as JSON (or console) lines."""
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    for noisy in ("elastic_transport.transport", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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
