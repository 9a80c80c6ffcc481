"""Alerter stage: documents from the ``alerting`` tap of ``verified`` go through the alert engine
(stories, baselines, alerts; stories re-scored with their threads by the rumour model, early
warnings); changed alerts are written to Elasticsearch after each batch.

The tap (``TS_STREAM_TAPS``) gives the alerter its own stream and consumer group, so it never
slows the indexer and a stopped alerter only lets its capped stream fill. A redelivered batch is
safe: a post already counted in a story is skipped, and alerts not yet written stay marked dirty.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.engine import AlertEngine
from trustscope.alerts.index import AlertIndices, flush_dirty
from trustscope.alerts.models import Post
from trustscope.bus import Message
from trustscope.observability import get_logger
from trustscope.schemas import Document

SOURCE = "alerting"
SWEEP_EVERY_S = 30.0

log = get_logger("trustscope.alerter")


class AlerterStage:
    name = "alerter"
    source = SOURCE
    dest = None

    def __init__(self, engine: AlertEngine, es: Elasticsearch, indices: AlertIndices) -> None:
        self.engine = engine
        self.es = es
        self.indices = indices
        self._swept = 0.0

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        posts = [Post.from_document(Document.model_validate_json(m.fields["doc"]))
                 for m in messages if m.fields.get("op", "index") == "index"]
        self.engine.process(posts)
        if time.monotonic() - self._swept > SWEEP_EVERY_S:
            self.engine.sweep()
            self._swept = time.monotonic()
        flush_dirty(self.es, self.indices, self.engine.store)
        return []


def build(settings: Any, client: Any) -> AlerterStage:
    from trustscope.alerts.rescore import StoryRescorer
    from trustscope.es import make_client
    from trustscope.rumour.scorer import RumourScorer

    es = make_client(settings)
    indices = AlertIndices(settings.es_index_prefix)
    indices.migrate(es)
    # the same model the integrity stage scores posts with re-scores stories with their threads
    rescorer = StoryRescorer(RumourScorer.from_settings(settings))
    return AlerterStage(AlertEngine(client, AlertConfig.from_settings(settings), rescorer=rescorer), es, indices)
