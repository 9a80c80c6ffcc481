"""The result type every caller of the sentiment engine sees."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SentimentResult:
    """Sentiment of one text.

    ``score`` = P(positive) - P(negative), in [-1, 1]. ``scored`` is False for texts the model
    should not judge (empty / not Chinese): those get label "neutral", score 0.0 and a ``reason``.
    ``heads`` maps each auxiliary head beside the model (``<model_dir>/heads/*.json``, see
    ``trustscope.sentiment.heads``) to its probability; empty when there are none or unscored.
    """

    label: str
    score: float
    prob_positive: float
    probs: dict[str, float] = field(default_factory=dict)
    scored: bool = True
    reason: str | None = None
    heads: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def unscored(cls, reason: str) -> SentimentResult:
        return cls(label="neutral", score=0.0, prob_positive=0.5, probs={}, scored=False, reason=reason)
