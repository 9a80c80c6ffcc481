"""Sentiment stage: documents from ``ingest`` get a sentiment and go on to ``scored``.

With a model that ships ``prior.json`` (the bge-zh accurate option) each source's results are
adjusted to that source's label prior, estimated by EM and kept in Redis (``PriorHook``). A Redis
error from the hook leaves ``process``: the worker treats it as an outage and redoes the batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from trustscope.bus import Message
from trustscope.observability import MODEL_SECONDS
from trustscope.schemas import Document, SentimentField, utcnow

log = logging.getLogger(__name__)

SOURCE = "ingest"
DEST = "scored"


class Classifier(Protocol):
    model_name: str

    def classify(self, texts: Sequence[str], batch_size: int = 64) -> list[Any]: ...


class SentimentStage:
    name = "sentiment"
    source = SOURCE
    dest = DEST

    def __init__(self, classifier: Classifier, prior_hook: Any | None = None) -> None:
        self.classifier = classifier
        self.prior_hook = prior_hook  # trustscope.sentiment.prior_store.PriorHook or None

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        docs = [Document.model_validate_json(m.fields["doc"]) for m in messages]
        texts = [f"{d.title}。{d.text}" if d.title and d.kind != "review" else d.text for d in docs]
        started = time.perf_counter()
        results = self.classifier.classify(texts)
        if self.prior_hook is not None:
            results = self.prior_hook.apply([d.source for d in docs], results)
        MODEL_SECONDS.labels(self.classifier.model_name).observe(time.perf_counter() - started)
        now = utcnow()
        out = []
        for doc, res in zip(docs, results, strict=True):
            doc.sentiment = SentimentField(label=res.label, score=float(res.score),
                                           prob_positive=float(res.prob_positive),
                                           scored=bool(res.scored), model=self.classifier.model_name,
                                           heads=dict(getattr(res, "heads", None) or {}))
            doc.stages["sentiment"] = now
            out.append({"doc": doc.to_json(), "op": "index"})
        return out


def build(settings: Any, client: Any) -> SentimentStage:
    from trustscope.sentiment import load_classifier
    from trustscope.sentiment.prior_store import PriorHook

    clf = load_classifier(settings.sentiment_model_dir, settings.torch_threads or None,
                          settings.sentiment_max_length)
    hook = None
    if settings.sentiment_prior_adjust and client is not None:
        hook = PriorHook.for_classifier(client, settings.stream_prefix, clf, settings.sentiment_model_dir)
    log.info("sentiment stage: model %s, backend %s, per-source prior adjustment %s", clf.model_name,
             clf.backend, "on" if hook else "off")
    return SentimentStage(clf, hook)
