"""Build the official Elasticsearch client from settings: API key, basic auth and TLS for production,
plain HTTP on 127.0.0.1 for the local node."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from trustscope.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "hosts": [h.strip() for h in settings.es_url.split(",") if h.strip()],
        "request_timeout": 30,
        "retry_on_timeout": True,
        "max_retries": 3,
    }
    if settings.es_api_key:
        opts["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username and settings.es_password:
        opts["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs:
        opts["ca_certs"] = settings.es_ca_certs
    if not settings.es_verify_certs:
        opts["verify_certs"] = False
        opts["ssl_show_warn"] = False
    return opts


def make_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(**client_options(settings))
