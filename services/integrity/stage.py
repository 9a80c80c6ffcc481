"""Integrity stage: reviews get a verdict (verified | suspicious | fake) from the integrity engine,
every document gets a rumour score, and verdicts of earlier reviews that later evidence changed are
sent on as updates. Documents go on to ``verified``, which the indexer writes to Elasticsearch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from trustscope.bus import Message
from trustscope.rumour.scorer import RumourScorer
from trustscope.schemas import Document, IntegrityField, Kind, utcnow

SOURCE = "scored"
DEST = "verified"


def _paid_prob(doc: Document) -> float | None:
    """The paid-review head's probability from the sentiment stage (``sentiment.heads``), if any."""
    heads = getattr(doc.sentiment, "heads", None) if doc.sentiment and doc.sentiment.scored else None
    value = heads.get("paid_review") if isinstance(heads, dict) else None
    return None if value is None else min(1.0, max(0.0, float(value)))


def integrity_field(update: Any, engine_name: str) -> IntegrityField:
    reasons = [str(r) for r in update.reasons]
    codes = sorted({r.split(":", 1)[0].strip() for r in reasons if r})
    return IntegrityField(verdict=update.verdict, fake_prob=round(float(update.fake_prob), 4),
                          reasons=reasons, reason_codes=codes, revision=int(update.revision),
                          engine=engine_name, updated_at=utcnow())


class IntegrityStage:
    name = "integrity"
    source = SOURCE
    dest = DEST

    def __init__(self, engine: Any, engine_name: str = "integrity-v1", rumour: RumourScorer | None = None) -> None:
        self.engine = engine
        self.engine_name = engine_name
        # a batch redone after a Redis outage must find its own claims stale, or the engine takes
        # them for another consumer's and skips the reviews
        self.min_retry_s = float(getattr(engine, "claim_stale_s", 0)) + 0.5
        self.rumour = rumour if rumour is not None else RumourScorer(None)

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        from trustscope.integrity import ReviewEvent

        docs = [Document.model_validate_json(m.fields["doc"]) for m in messages]
        events = [
            ReviewEvent(
                id=d.id,
                platform=d.platforms[0] if d.platforms else f"unlinked:{d.source}",
                author_id=d.author_id or f"anonymous:{d.source}",
                rating=d.rating,
                text=d.text,
                created_at=d.created_at.timestamp(),
                author_created_at=d.author_created_at.timestamp() if d.author_created_at else None,
                author_review_count=d.author_review_count,
                prob_positive=d.sentiment.prob_positive if d.sentiment and d.sentiment.scored else None,
                paid_prob=_paid_prob(d),
            )
            for d in docs if d.kind is Kind.review
        ]
        updates = {u.id: u for u in self.engine.process(events)} if events else {}
        now = utcnow()
        out: list[dict[str, str]] = []
        batch_ids = set()
        for doc, rumour in zip(docs, self.rumour.fields(docs)):
            batch_ids.add(doc.id)
            update = updates.get(doc.id)
            if update is not None:
                doc.integrity = integrity_field(update, self.engine_name)
            doc.rumour = rumour
            doc.stages["integrity"] = now
            out.append({"doc": doc.to_json(), "op": "index"})
        for rid, update in updates.items():
            if rid not in batch_ids:  # a revision of an earlier review
                patch = {"id": rid, "integrity": integrity_field(update, self.engine_name).model_dump(mode="json")}
                out.append({"doc": orjson.dumps(patch).decode(), "op": "revise"})
        return out


def build(settings: Any, client: Any) -> IntegrityStage:
    from trustscope.integrity import IntegrityEngine
    from trustscope.integrity.detectors.paid_text import THRESHOLD
    from trustscope.integrity.paid_head import HeadFile, head_path
    from trustscope.integrity.store import CLAIM_STALE_S

    # the head's operating threshold travels in its file; the probability itself comes in the document
    path = head_path(settings.sentiment_model_dir)
    threshold = HeadFile.load(path).threshold if path.exists() else THRESHOLD
    # a crashed consumer's claims must be stale by the time XAUTOCLAIM hands its batch to another
    stale_s = max(1, min(CLAIM_STALE_S, settings.claim_idle_ms // 2000))
    return IntegrityStage(IntegrityEngine.from_redis(client, prefix=f"{settings.stream_prefix}:int",
                                                     paid_threshold=threshold, claim_stale_s=stale_s),
                          rumour=RumourScorer.from_settings(settings))
