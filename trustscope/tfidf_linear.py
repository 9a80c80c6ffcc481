"""A linear model over sublinear TF-IDF, l2-normalised, scored from plain arrays.

Why hand-written: the rumour text views and the sentiment n-gram member are fitted with
scikit-learn's ``TfidfVectorizer(sublinear_tf=True, norm="l2")`` + ``LogisticRegression``, but
serving installs carry no scikit-learn. For one text the logit is
``intercept + sum(tf * idf * coef) / ||tf * idf||`` with ``tf = 1 + log(count)`` over the text's
known terms; each caller brings its own analyzer (which terms a text has).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class TfidfLinear:
    """``idf`` and ``coef`` per column; ``logit(counts)`` for a text's column -> count."""

    idf: np.ndarray
    coef: np.ndarray
    intercept: float
    _idf: list[float] = field(init=False, repr=False)
    _w: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # idf * coef folded once: a text's logit is sum(tf*idf*coef) / ||tf*idf||
        self._idf = self.idf.astype(np.float64).tolist()
        self._w = (self.coef.astype(np.float64) * self.idf.astype(np.float64)).tolist()

    def logit(self, counts: Counter) -> float:
        """The log-odds of a text with these column counts (the intercept alone when it has none)."""
        if not counts:
            return self.intercept
        idf, w = self._idf, self._w
        num = 0.0
        sq = 0.0
        for j, c in counts.items():
            tf = 1.0 + math.log(c)
            num += tf * w[j]
            x = tf * idf[j]
            sq += x * x
        return self.intercept + num / math.sqrt(sq)
