"""A char n-gram TF-IDF + logistic-regression member stacked with the BERT, served without scikit-learn.

Why: on the shared reviews the fine-tuned teacher and char TF-IDF + LR err on different reviews;
a logistic regression on the two logits, fitted on validation reviews neither member trained on,
beats each alone in-domain and on held-out domains (docs/benchmarks.md, "Sentiment, third/fourth
session"). Serving only needs the fitted vocabulary, idf, LR weights and the stack's weights, so
they are exported to one ``.npz`` + ``ensemble.json`` in the model dir and scored here in numpy:
no scikit-learn in a serve-only install. ``export_member`` (training side) writes them from a
fitted scikit-learn pipeline; ``load_member`` reads them back; the scores match scikit-learn's
``decision_function`` to float32 rounding (unit test).

Files in the model dir:

    ensemble.json    {"member": "tfidf_char13.npz", "weights": [w_bert, w_tfidf], "intercept": b, ...}
    tfidf_char13.npz vocab (one '\\n'-joined UTF-8 string, column order), idf, coef, intercept, ngram
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustscope.sentiment.ensemble import logit, sigmoid
from trustscope.tfidf_linear import TfidfLinear

ENSEMBLE_FILE = "ensemble.json"
_WHITE = re.compile(r"\s\s+")  # scikit-learn's char analyzer collapses runs of white space


@dataclass
class NgramMember:
    """Char n-gram TF-IDF (sublinear tf, l2 norm) + a linear model; ``logits(texts)`` its scores."""

    vocab: dict[str, int]
    idf: np.ndarray  # float32, one per column
    coef: np.ndarray  # float32, one per column
    intercept: float
    ngram: tuple[int, int]
    lowercase: bool = True

    def __post_init__(self) -> None:
        self._linear = TfidfLinear(self.idf, self.coef, self.intercept)

    def _grams(self, text: str) -> Counter:
        t = _WHITE.sub(" ", text.lower() if self.lowercase else text)
        lo, hi = self.ngram
        return Counter(t[i:i + n] for n in range(lo, min(hi, len(t)) + 1) for i in range(len(t) - n + 1))

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """The LR decision value of each text (its logit), float64."""
        vocab = self.vocab
        return np.fromiter(
            (self._linear.logit(Counter({vocab[g]: c for g, c in self._grams(t).items() if g in vocab}))
             for t in texts), dtype=np.float64, count=len(texts))


@dataclass(frozen=True)
class Ensemble:
    """P(positive) = sigmoid(w_bert * logit(p_bert) + w_tfidf * tfidf_logit + intercept)."""

    member: NgramMember
    w_bert: float
    w_member: float
    intercept: float
    info: dict

    def combine(self, texts: Sequence[str], p_pos: np.ndarray) -> np.ndarray:
        z = self.w_bert * logit(p_pos) + self.w_member * self.member.logits(texts) + self.intercept
        return sigmoid(z)


def export_member(pipe, path: str | Path) -> None:
    """Write a fitted ``make_pipeline(TfidfVectorizer(analyzer="char"), LogisticRegression)``."""
    vec, lr = pipe.steps[0][1], pipe.steps[-1][1]
    if vec.analyzer != "char" or not vec.sublinear_tf or vec.norm != "l2" or not vec.use_idf:
        raise ValueError("only char n-gram TF-IDF with sublinear tf, l2 norm and idf can be exported")
    terms = vec.get_feature_names_out()
    if any("\n" in t for t in terms):
        raise ValueError("a vocabulary term contains a newline")
    np.savez_compressed(Path(path), vocab=np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8),
                        idf=vec.idf_.astype(np.float32), coef=lr.coef_[0].astype(np.float32),
                        intercept=np.float64(lr.intercept_[0]), ngram=np.asarray(vec.ngram_range),
                        lowercase=np.bool_(vec.lowercase))


def read_member(path: str | Path) -> NgramMember:
    z = np.load(Path(path))
    terms = z["vocab"].tobytes().decode("utf-8").split("\n")
    return NgramMember(vocab={t: i for i, t in enumerate(terms)}, idf=z["idf"], coef=z["coef"],
                       intercept=float(z["intercept"]), ngram=(int(z["ngram"][0]), int(z["ngram"][1])),
                       lowercase=bool(z["lowercase"]))


def save_ensemble(model_dir: str | Path, member_file: str, w_bert: float, w_member: float,
                  intercept: float, **info) -> None:
    Path(model_dir, ENSEMBLE_FILE).write_text(json.dumps(
        {"member": member_file, "weights": [w_bert, w_member], "intercept": intercept, **info},
        indent=1, ensure_ascii=False) + "\n")


def load_ensemble(model_dir: str | Path) -> Ensemble | None:
    """The model dir's stacked n-gram member, or None when it has no ``ensemble.json``."""
    f = Path(model_dir, ENSEMBLE_FILE)
    if not f.exists():
        return None
    cfg = json.loads(f.read_text())
    w_bert, w_member = (float(w) for w in cfg["weights"])
    info = {k: v for k, v in cfg.items() if k not in ("member", "weights", "intercept")}
    return Ensemble(read_member(Path(model_dir, cfg["member"])), w_bert, w_member, float(cfg["intercept"]), info)
