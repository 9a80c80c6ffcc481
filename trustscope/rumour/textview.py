"""A character n-gram TF-IDF + logistic-regression view, stored as plain arrays.

Serving needs only numpy: the vocabulary (n-gram -> column), the idf and the coefficients of the
fitted logistic regression. The TF-IDF is sklearn's ``sublinear_tf=True, norm="l2"`` recipe,
recomputed here per text so the exported view gives the same logit as the fitted pipeline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from trustscope.rumour.features import char_ngrams
from trustscope.tfidf_linear import TfidfLinear


def terms_by_column(vocab: dict[str, int]) -> list[str]:
    """The vocabulary as a list indexed by column, the order the weight arrays are stored in."""
    out = [""] * len(vocab)
    for term, j in vocab.items():
        out[j] = term
    return out


@dataclass(slots=True, repr=False)
class TextView:
    name: str
    nmin: int
    nmax: int
    vocab: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float
    _linear: TfidfLinear = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._linear = TfidfLinear(self.idf, self.coef, self.intercept)

    def logit(self, text: str) -> float:
        """The view's log-odds for one text (the intercept alone when no n-gram is known)."""
        vocab = self.vocab
        counts = Counter(j for j in map(vocab.get, char_ngrams(text, self.nmin, self.nmax)) if j is not None)
        return self._linear.logit(counts)

    def logits(self, texts: list[str]) -> np.ndarray:
        return np.fromiter((self.logit(t) for t in texts), dtype=np.float64, count=len(texts))

    def arrays(self) -> dict[str, np.ndarray]:
        p = f"{self.name}."
        return {p + "idf": self.idf.astype(np.float32), p + "coef": self.coef.astype(np.float32),
                p + "intercept": np.asarray([self.intercept], dtype=np.float64)}

    def terms(self) -> list[str]:
        return terms_by_column(self.vocab)

    @classmethod
    def from_arrays(cls, name: str, nmin: int, nmax: int, terms: list[str],
                    arrays: dict[str, np.ndarray]) -> TextView:
        p = f"{name}."
        idf, coef = arrays[p + "idf"], arrays[p + "coef"]
        if not (len(terms) == idf.shape[0] == coef.shape[0]):
            raise ValueError(f"view {name}: vocabulary, idf and coef sizes differ")
        return cls(name, nmin, nmax, {t: j for j, t in enumerate(terms)}, idf, coef,
                   float(arrays[p + "intercept"][0]))
