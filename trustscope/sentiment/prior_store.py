"""Per-source label-prior adjustment for the sentiment service, kept in Redis.

Why Redis: several sentiment workers see the same source's texts; each batch pushes its raw
posteriors into one capped list per source, and the prior re-estimated by EM over that rolling
window (``priors.em_prior``) is stored beside it, so every worker adjusts with the same prior and
a restart keeps it. Keys (``prefix`` = ``settings.stream_prefix``):

    {prefix}:sentiment:posteriors:{source}   list of the last ``window`` raw P(positive)
    {prefix}:sentiment:prior:{source}        the estimated prior (string float)

The stage calls ``PriorHook.apply(sources, results)`` right after ``classify``; results whose
source has fewer than ``min_texts`` posteriors are left as they are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from trustscope.sentiment.priors import adjust_posteriors, em_prior
from trustscope.sentiment.result import SentimentResult

POSITIVE_NAMES = ("positive", "pos", "正面", "积极", "label_1", "1")
PRIOR_FILE = "prior.json"  # {"train_prior": P(positive) of the fine-tuning data}

log = logging.getLogger(__name__)


def load_train_prior(model_dir: str | Path) -> float | None:
    """The model's training prior from ``prior.json``; None when the model has none."""
    path = Path(model_dir, PRIOR_FILE)
    if not path.exists():
        return None
    value = float(json.loads(path.read_text())["train_prior"])
    return value if 0.0 < value < 1.0 else None


class PriorHook:
    """Adjusts each source's results to that source's estimated label prior."""

    # min_texts 500: on the random test split, per-domain EM over 200-400 texts of the small model
    # moved a few domains' estimates by 0.05-0.14 and cost up to 2 points there (docs/benchmarks.md)
    def __init__(self, client, prefix: str, train_prior: float, band, window: int = 2000,
                 min_texts: int = 500):
        self.client, self.prefix, self.train_prior, self.band = client, prefix, train_prior, band
        self.window, self.min_texts = window, min_texts
        self._last: dict[str, float] = {}

    @classmethod
    def for_classifier(cls, client, prefix: str, classifier, model_dir: str | Path) -> PriorHook | None:
        """A hook for ``classifier`` (its neutral band) when the model ships a training prior."""
        prior = load_train_prior(model_dir)
        return None if prior is None else cls(client, prefix, prior, classifier.band)

    def _keys(self, source: str) -> tuple[str, str]:
        return (f"{self.prefix}:sentiment:posteriors:{source}", f"{self.prefix}:sentiment:prior:{source}")

    def update(self, source: str, p_pos: Sequence[float]) -> float | None:
        """Push raw posteriors of one source; returns its current prior (None: too few texts)."""
        post_key, prior_key = self._keys(source)
        pipe = self.client.pipeline()
        if p_pos:
            pipe.lpush(post_key, *[f"{p:.6f}" for p in p_pos])
            pipe.ltrim(post_key, 0, self.window - 1)
        pipe.lrange(post_key, 0, -1)
        window = [float(x) for x in pipe.execute()[-1]]
        if len(window) < self.min_texts:
            return None
        prior = em_prior(window, self.train_prior)
        self.client.set(prior_key, f"{prior:.6f}")
        if abs(prior - self._last.get(source, self.train_prior)) > 0.05:
            log.info("sentiment prior of source %s now %.3f (training %.3f, %d texts)", source, prior,
                     self.train_prior, len(window))
            self._last[source] = prior
        return prior

    def apply(self, sources: Sequence[str], results: Sequence[SentimentResult]) -> list[SentimentResult]:
        """``results`` with P(positive), score and label adjusted to each source's prior."""
        out = list(results)
        by_source: dict[str, list[int]] = {}
        for i, (src, res) in enumerate(zip(sources, results, strict=True)):
            if res.scored and len(res.probs) == 2:  # binary models only
                by_source.setdefault(src, []).append(i)
        for src, idx in by_source.items():
            prior = self.update(src, [results[i].prob_positive for i in idx])
            if prior is None:
                continue
            adj = adjust_posteriors([results[i].prob_positive for i in idx], self.train_prior, prior)
            for i, p in zip(idx, adj.tolist()):
                res = results[i]
                pos = next((k for k in res.probs if k.strip().lower() in POSITIVE_NAMES), None)
                probs = {k: round(p if k == pos else 1 - p, 6) for k in res.probs} if pos else res.probs
                out[i] = replace(res, prob_positive=round(p, 6), score=round(2 * p - 1, 6),
                                 label=self.band.label(p), probs=probs)
        return out
