"""Prometheus metrics of the pollers (names start with ``trustscope_poller_``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

POLLS = Counter("trustscope_poller_polls_total", "Polls of a source by outcome "
                "(ok, not_modified, error, interrupted)", ["source", "outcome"])
ITEMS = Counter("trustscope_poller_items_total", "Items seen by the pollers by outcome "
                "(accepted, updated, duplicate, seen, old, skipped)", ["source", "outcome"])
HTTP_RETRIES = Counter("trustscope_poller_http_retries_total", "Retried HTTP requests after a "
                       "transient failure", ["source"])
BACKPRESSURE_WAITS = Counter("trustscope_poller_backpressure_waits_total", "Times a poller waited "
                             "because the pipeline backlog was full", ["source"])
LAST_SUCCESS = Gauge("trustscope_poller_last_success_timestamp_seconds", "Unix time of the last "
                     "successful poll of a source", ["source"])
