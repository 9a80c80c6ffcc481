"""Elasticsearch: client construction, index templates and aliases, migrations."""

from trustscope.es.client import make_client
from trustscope.es.indices import DocIndices

__all__ = ["make_client", "DocIndices"]
