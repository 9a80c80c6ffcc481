"""The paid-review head, retrained inside each leave-one-family-out fold.

Why: the shipped head (``train_head``) was trained on streams with every attack family in them, so
a held-out evaluation that used it would let the held-out family's texts in through the head. Here
each fold gets its own head, fitted on the *tuning* streams' texts of every family but the held-out
one (and honest-only streams), exactly like the fold's combination weights.

Recipe (the shipped head's, on the fold's data): pooled sentiment-BERT embeddings of every
distinct text of the run are computed once (``TextEmbeddings``, the expensive part); per fold,
texts are positive when an attack wrote them and negative when an honest reviewer or a cover review
did (texts that occur with both labels, e.g. verbatim copies of honest reviews, are dropped);
standardised, class-balanced L2 logistic regression (``C`` of the shipped head). The tuning
streams' head probabilities are *cross-fitted* by seed (the head trained on seed 1's texts scores
seed 2's streams and vice versa), so the combination is fitted on out-of-sample head outputs; Platt
calibration and the operating threshold (the lowest with precision >= 0.9, as ``train_head``) come
from those cross-fitted probabilities; evaluation streams are scored by the head trained on both
tuning seeds. ``paid_text`` is then ``ramp(p, threshold, 0.95)``, as in the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trustscope.integrity.detectors.paid_text import score as paid_score
from trustscope.integrity.train_head import MIN_PRECISION, _threshold_for_precision

C = 1.0  # the shipped head's regularisation (models/.../heads/paid_review.json: training.C)
NON_ATTACK = ("honest", "cover")


class TextEmbeddings:
    """Pooled embeddings of a set of texts, computed once and optionally cached on disk (``.npz``
    keyed by a hash of the text list), looked up by text."""

    def __init__(self, texts: Iterable[str], embed: Callable[[list[str]], Any],
                 cache_dir: Path | None = None, log: Callable[[str], None] = lambda _m: None) -> None:
        self.texts = sorted(set(t for t in texts if t))
        self.index = {t: n for n, t in enumerate(self.texts)}
        key = hashlib.blake2b("\n".join(self.texts).encode("utf-8"), digest_size=10).hexdigest()
        path = cache_dir / f"lofo-emb-{key}.npy" if cache_dir is not None else None
        if path is not None and path.exists():
            self.x = np.load(path)
            log(f"embeddings of {len(self.texts)} texts from {path}")
            return
        parts = []
        for start in range(0, len(self.texts), 4096):
            parts.append(np.asarray(embed(self.texts[start:start + 4096]), dtype=np.float32))
            log(f"embedded {min(start + 4096, len(self.texts))} / {len(self.texts)} texts")
        self.x = np.vstack(parts) if parts else np.zeros((0, 1), dtype=np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, self.x)

    def of(self, texts: Sequence[str]) -> np.ndarray:
        return self.x[[self.index[t] for t in texts]]


@dataclass
class FoldHead:
    """A per-fold head: ``p = sigmoid(a * (w . (x - mean) / scale + b) + c)``; ``threshold`` as in the
    shipped head file."""

    w: np.ndarray
    b: float
    mean: np.ndarray
    scale: np.ndarray
    platt: tuple[float, float] = (1.0, 0.0)
    threshold: float = 0.5

    def decision(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.w + self.b

    def prob(self, x: np.ndarray) -> np.ndarray:
        a, c = self.platt
        return 1.0 / (1.0 + np.exp(-(a * self.decision(x) + c)))

    def column(self, x: np.ndarray) -> np.ndarray:
        """The ``paid_text`` signal of each row, as the engine computes it."""
        return np.array([paid_score(float(p), self.threshold).score for p in self.prob(x)])


def labelled_texts(streams: Iterable[Any]) -> tuple[list[str], np.ndarray]:
    """Distinct texts of the streams with y = 1 (an attack wrote it) / 0 (honest or cover); texts
    seen with both labels are dropped."""
    lab: dict[str, set[int]] = {}
    for s in streams:
        for e, label in zip(s.sim.events, s.labels):
            if e.text:
                lab.setdefault(e.text, set()).add(0 if label in NON_ATTACK else 1)
    texts = sorted(t for t, ys in lab.items() if len(ys) == 1)
    return texts, np.array([next(iter(lab[t])) for t in texts])


def _fit(x: np.ndarray, y: np.ndarray) -> FoldHead:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    clf.fit((x - mean) / scale, y)
    return FoldHead(clf.coef_[0].astype(np.float64), float(clf.intercept_[0]), mean, scale)


def train_fold(emb: TextEmbeddings, tune: Sequence[Any], exclude: str | None,
               seed_of: Callable[[Any], int]) -> tuple[FoldHead, dict[int, FoldHead]]:
    """(head for evaluation streams, {tuning seed: head that scores that seed's streams}), fitted
    on the tuning streams of every family but ``exclude``."""
    from sklearn.linear_model import LogisticRegression

    use = [s for s in tune if s.family is None or s.family != exclude]
    seeds = sorted({seed_of(s) for s in use})
    per_seed: dict[int, FoldHead] = {}
    z_all, y_all = [], []
    for seed in seeds:
        train_texts, y_tr = labelled_texts(s for s in use if seed_of(s) != seed)
        head = _fit(emb.of(train_texts), y_tr)
        held = set(train_texts)
        test_texts, y_te = labelled_texts(s for s in use if seed_of(s) == seed)
        keep = [n for n, t in enumerate(test_texts) if t not in held]  # out-of-sample texts only
        z_all.append(head.decision(emb.of([test_texts[n] for n in keep])))
        y_all.append(y_te[keep])
        per_seed[seed] = head
    z, y = np.concatenate(z_all), np.concatenate(y_all)
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
    a, c = float(platt.coef_[0][0]), float(platt.intercept_[0])
    p = 1.0 / (1.0 + np.exp(-(a * z + c)))
    threshold = _threshold_for_precision(y, p, MIN_PRECISION)
    texts, y_full = labelled_texts(use)
    full = _fit(emb.of(texts), y_full)
    for h in (full, *per_seed.values()):
        h.platt, h.threshold = (a, c), threshold
    return full, per_seed
