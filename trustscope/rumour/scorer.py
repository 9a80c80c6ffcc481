"""The rumour scorer the integrity stage applies to every document.

Social posts get the trained model's probability (``rumour.score``) from their text and whatever
thread context is passed (comment texts); the lexicon's phrase hits stay as the explanatory
``rumour.terms``. Reviews and news are out of the model's domain (Weibo posts) and keep the lexicon
score, as does everything when no model is installed (logged once at start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from trustscope.rumour.events import MAX_COMMENT_CHARS, MAX_COMMENT_TEXTS, Repost, RumourEvent
from trustscope.rumour.lexicon import ENGINE as LEXICON_ENGINE
from trustscope.rumour.lexicon import score_text
from trustscope.rumour.model import EventEncoding, RumourModel

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ScoredText:
    score: float
    terms: list[str]
    engine: str


class RumourScorer:
    def __init__(self, model: RumourModel | None) -> None:
        self.model = model
        self._warned = False

    @classmethod
    def from_dir(cls, directory: str | Path | None) -> RumourScorer:
        """The model in ``directory`` (None: the default dir), or the lexicon alone when absent."""
        try:
            model = RumourModel.load(directory)
        except (FileNotFoundError, ValueError) as exc:
            log.warning("rumour_model_unavailable", error=str(exc), fallback=LEXICON_ENGINE)
            return cls(None)
        if model.words is not None:  # load jieba's dictionary now, not inside the first batch
            from trustscope.rumour.features import word_tokens

            word_tokens("预热")
        log.info("rumour_model_loaded", engine=model.engine, directory=str(directory),
                 version=model.meta.get("version"))
        return cls(model)

    @classmethod
    def from_settings(cls, settings: Any) -> RumourScorer:
        return cls.from_dir(getattr(settings, "rumour_model_dir", None))

    def score_texts(self, texts: Sequence[str], comments: Sequence[Sequence[str]] | None = None,
                    use_model: Sequence[bool] | None = None, encoding: EventEncoding | None = None) -> list[ScoredText]:
        """One score per text; ``comments[i]`` are the thread's comment texts known for text i.

        ``encoding`` (one row per text: the pooled embeddings the sentiment stage already computed)
        adds the model's encoder view when it comes from the model's encoder; without it, or from
        another encoder, the text-only stackers score (no second forward pass here)."""
        lex = [score_text(t) for t in texts]
        out = [ScoredText(r.score, r.terms, r.engine) for r in lex]
        if self.model is None:
            return out
        picks = [i for i in range(len(texts)) if use_model is None or use_model[i]]
        if not picks:
            return out
        events = [self._event(texts[i], comments[i] if comments else ()) for i in picks]
        enc = None
        if encoding is not None and self.model.uses(encoding):
            rows = np.asarray(picks)
            enc = EventEncoding(encoding.post[rows], encoding.comments[rows], encoding.comment_count[rows],
                                encoding.encoder_id)
        elif encoding is not None and not self._warned:
            self._warned = True
            log.warning("rumour_encoder_view_dropped", reason="embedding from another encoder",
                        got=encoding.encoder_id[:16],
                        expected=self.model.encoder.encoder_id[:16] if self.model.encoder else None)
        probs = self.model.predict_proba(events, enc)
        for i, p in zip(picks, probs.tolist()):
            out[i] = ScoredText(round(float(p), 4), lex[i].terms, self.model.engine)
        return out

    @staticmethod
    def _event(text: str, comments: Sequence[str]) -> RumourEvent:
        # no times are known for a document's context: the comments count as arrived with the post
        reposts = [Repost(mid="", parent="", uid="", text=c[:MAX_COMMENT_CHARS], time=0.0)
                   for c in list(comments)[:MAX_COMMENT_TEXTS]]
        return RumourEvent(None, text, 0.0, None, reposts, None if reposts else 0.0)

    def fields(self, docs: Sequence[Any]) -> list[Any]:
        """``RumourField`` per document (social posts: model; others: lexicon)."""
        from trustscope.schemas import Kind, RumourField

        scored = self.score_texts([d.text_simplified + (d.title or "") for d in docs],
                                  use_model=[d.kind is Kind.social for d in docs])
        return [RumourField(score=s.score, terms=s.terms, engine=s.engine) for s in scored]
