"""Sentiment stage: documents from ``ingest`` get a sentiment and go on to ``scored``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from trustscope.bus import Message
from trustscope.observability import MODEL_SECONDS
from trustscope.schemas import Document, SentimentField, utcnow

SOURCE = "ingest"
DEST = "scored"


class Classifier(Protocol):
    model_name: str

    def classify(self, texts: Sequence[str], batch_size: int = 64) -> list[Any]: ...


class SentimentStage:
    name = "sentiment"
    source = SOURCE
    dest = DEST

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        docs = [Document.model_validate_json(m.fields["doc"]) for m in messages]
        texts = [f"{d.title}。{d.text}" if d.title and d.kind != "review" else d.text for d in docs]
        started = time.perf_counter()
        results = self.classifier.classify(texts)
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


def build(settings: Any, _client: Any) -> SentimentStage:
    from trustscope.sentiment import load_classifier

    return SentimentStage(load_classifier(settings.sentiment_model_dir, settings.torch_threads or None,
                                          settings.sentiment_max_length))
