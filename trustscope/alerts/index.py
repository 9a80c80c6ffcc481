"""The alerts index in Elasticsearch, with the same alias/version/migration conventions as the
documents index (``trustscope.es.DocIndices``): read alias ``{prefix}-alerts``, write alias
``{prefix}-alerts-write``, concrete ``{prefix}-alerts-v{N}``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from elasticsearch import Elasticsearch, helpers

from trustscope.alerts.models import Alert
from trustscope.alerts.store import AlertStore
from trustscope.es.indices import TEMPLATES_DIR, DocIndices

TEMPLATE_FILE = TEMPLATES_DIR / "alerts-template.json"


@dataclass(frozen=True)
class AlertIndices(DocIndices):
    family: ClassVar[str] = "alerts"
    template_file: ClassVar[Path] = TEMPLATE_FILE


def index_alerts(es: Elasticsearch, indices: AlertIndices, alerts: list[Alert], refresh: bool = False) -> None:
    """Write alerts under their ids, versioned by ``Alert.version`` so an older copy written late
    (the alerter and the gateway both write) never replaces a newer one. Redis holds the truth."""
    actions = [{"_op_type": "index", "_index": indices.write_alias, "_id": a.id, "version": a.version,
                "version_type": "external_gte", "_source": a.model_dump(mode="json")} for a in alerts]
    if not actions:
        return
    _ok, errors = helpers.bulk(es, actions, max_retries=3, initial_backoff=1, raise_on_error=False,
                               refresh="wait_for" if refresh else False)
    failed = [e for e in errors if e.get("index", {}).get("status") != 409]  # type: ignore[union-attr]
    if failed:
        raise RuntimeError(f"{len(failed)} alerts not indexed: {failed[:2]}")


def flush_dirty(es: Elasticsearch, indices: AlertIndices, store: AlertStore, refresh: bool = False) -> int:
    """Index every alert changed since its last write; raises (and keeps them dirty) on failure."""
    written = 0
    while True:
        ids = store.dirty(500)
        if not ids:
            return written
        alerts = store.get_many(ids)
        index_alerts(es, indices, alerts, refresh=refresh)
        store.clean(ids)
        written += len(ids)
        if len(ids) < 500:
            return written
