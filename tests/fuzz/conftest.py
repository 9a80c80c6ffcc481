"""The fuzz suite reuses the integration fixtures (real Redis and Elasticsearch, live servers)."""

from tests.integration.conftest import bus, es, live_server, prefix, rclient, settings  # noqa: F401
