"""The word view (model v4; optional and off in the shipped recipe since v4.1, see
``training.POST_PARTS``: it gained in CV, lost on the time split and cost ~3.6x text-only
throughput): jieba words and word pairs of the post, an NB-weighted logistic
regression over which of them occur (Wang & Manning's NB-LR: each word's log-count ratio between
the classes scales its binary feature before the fit), stored as plain arrays.

Why beside the char n-gram view: the n-gram view weighs short character runs by tf-idf; this one
sees whole words and word pairs, and the ratio lets rare but one-sided words count. Serving needs
numpy and jieba: the logit is the intercept plus the folded weight (ratio x coefficient) of every
known token present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trustscope.rumour.features import word_tokens
from trustscope.rumour.textview import terms_by_column


@dataclass(slots=True, repr=False)
class WordView:
    name: str
    vocab: dict[str, int]
    weight: np.ndarray  # ratio * coefficient, one per vocabulary entry
    intercept: float
    _w: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._w = self.weight.astype(np.float64).tolist()

    def logit(self, text: str) -> float:
        vocab, w = self.vocab, self._w
        present = {j for j in map(vocab.get, word_tokens(text)) if j is not None}
        return self.intercept + sum(w[j] for j in present)

    def logits(self, texts: list[str]) -> np.ndarray:
        return np.fromiter((self.logit(t) for t in texts), dtype=np.float64, count=len(texts))

    def arrays(self) -> dict[str, np.ndarray]:
        p = f"{self.name}."
        return {p + "weight": self.weight.astype(np.float64),
                p + "intercept": np.asarray([self.intercept], dtype=np.float64)}

    def terms(self) -> list[str]:
        return terms_by_column(self.vocab)

    @classmethod
    def from_arrays(cls, name: str, terms: list[str], arrays: dict[str, np.ndarray]) -> WordView:
        p = f"{name}."
        weight = arrays[p + "weight"]
        if len(terms) != weight.shape[0]:
            raise ValueError(f"view {name}: vocabulary and weight sizes differ")
        return cls(name, {t: j for j, t in enumerate(terms)}, weight, float(arrays[p + "intercept"][0]))
