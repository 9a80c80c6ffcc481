"""Loading a BERT-family checkpoint and classifying texts fast on a CPU.

Works with any Hugging Face sequence-classification checkpoint directory: labels are read from
``config.id2label``; the positive / negative / neutral classes are found by name (``LABEL_0`` /
``LABEL_1`` style binary checkpoints are read as 0 = negative, 1 = positive). Loading never touches
the network.

Two backends give the same outputs (logits and the pooled embedding): ONNX Runtime when the
directory has ``model.onnx`` (``trustscope model export-onnx``; never imports torch, which keeps
the sentiment service small) and torch for everything else. ``TS_SENTIMENT_BACKEND`` picks one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustscope.sentiment.calibration import NeutralBand, load_band
from trustscope.sentiment.heads import Head, head_probs, load_heads
from trustscope.sentiment.inference import run_bucketed
from trustscope.sentiment.ngram_member import Ensemble, load_ensemble
from trustscope.sentiment.result import SentimentResult
from trustscope.sentiment.textprep import unscored_reason

log = logging.getLogger(__name__)

_POS_NAMES = ("positive", "pos", "正面", "积极")
_NEG_NAMES = ("negative", "neg", "负面", "消极")
_NEU_NAMES = ("neutral", "neu", "中性")


def _label_roles(id2label: dict) -> tuple[int, int, int | None]:
    """(positive index, negative index, neutral index or None) from a config's id2label."""
    names = {int(i): str(n).strip().lower() for i, n in id2label.items()}
    find = lambda keys: next((i for i, n in names.items() if n in keys), None)
    pos, neg, neu = find(_POS_NAMES), find(_NEG_NAMES), find(_NEU_NAMES)
    if pos is None or neg is None:
        if len(names) == 2:  # LABEL_0 / LABEL_1 or "0" / "1": the ChnSentiCorp convention
            return 1, 0, None
        raise ValueError(f"cannot tell positive/negative classes from id2label={id2label}")
    return pos, neg, neu


@dataclass(frozen=True)
class Analysis:
    """Everything one forward pass gives for a batch of texts.

    ``results[i]`` is the sentiment of text i with every head's probability in ``.heads``
    (paid-review, rumour text, ...: ``<model_dir>/heads/*.json``); ``pooled[i]`` is its
    attention-masked mean embedding (float32, ``hidden`` wide), also for unscored texts, e.g. for
    paraphrase similarity (cosine) in the integrity engine without a second model.
    """

    results: list[SentimentResult]
    pooled: np.ndarray


class SentimentClassifier:
    """A backend runner plus tokenizer, neutral band, heads and settings; thread-safe ``classify``."""

    def __init__(self, runner, tokenizer, band: NeutralBand, max_length: int, model_name: str,
                 id2label: dict, heads: list[Head] | None = None, hidden_size: int = 0,
                 ensemble: Ensemble | None = None):
        self.runner = runner
        self.backend = getattr(runner, "backend", "unknown")
        self.model = getattr(runner, "model", None)  # the torch model on the torch backend
        self.tokenizer = tokenizer
        self.band = band
        self.max_length = max_length
        self.model_name = model_name
        self.heads = list(heads or [])
        self.hidden_size = hidden_size
        self.labels = {int(i): str(n) for i, n in id2label.items()}
        self._pos, self._neg, self._neu = _label_roles(id2label)
        if ensemble is not None and len(self.labels) != 2:
            raise ValueError("an n-gram ensemble (ensemble.json) needs a binary model")
        # a stacked char n-gram member (ngram_member.py): combined into P(positive) of every text
        self.ensemble = ensemble
        self._lock = threading.Lock()  # one forward at a time: the backend already uses every thread

    @staticmethod
    def _check(texts: Sequence[str]) -> None:
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"text {i} is {type(t).__name__}, expected str")

    def _forward(self, texts: Sequence[str], batch_size: int, combine: bool = True):
        with self._lock:
            probs, pooled = run_bucketed(self.runner, self.tokenizer, texts, self.max_length, batch_size)
        if combine and self.ensemble is not None and len(texts):
            p = self.ensemble.combine(texts, probs[:, self._pos]).astype(np.float32)
            probs[:, self._pos], probs[:, self._neg] = p, 1.0 - p
        return probs, pooled

    def classify(self, texts: Sequence[str], batch_size: int = 64) -> list[SentimentResult]:
        """One result per text, in input order. Non-strings raise TypeError."""
        self._check(texts)
        results: list[SentimentResult | None] = [None] * len(texts)
        todo: list[int] = []
        for i, t in enumerate(texts):
            reason = unscored_reason(t)
            if reason:
                results[i] = SentimentResult.unscored(reason)
            else:
                todo.append(i)
        if todo:
            probs, pooled = self._forward([texts[i] for i in todo], batch_size)
            heads = head_probs(self.heads, pooled)
            for row, h, i in zip(probs.tolist(), heads, todo):
                results[i] = self._result(row, h)
        return results  # type: ignore[return-value]

    def analyze(self, texts: Sequence[str], batch_size: int = 64) -> Analysis:
        """Sentiment, every head and the pooled embedding of each text from one forward pass."""
        self._check(texts)
        if not texts:
            return Analysis([], np.zeros((0, self.hidden_size), dtype=np.float32))
        probs, pooled = self._forward(list(texts), batch_size)
        heads = head_probs(self.heads, pooled)
        results = [SentimentResult.unscored(reason) if (reason := unscored_reason(t))
                   else self._result(row, h) for t, row, h in zip(texts, probs.tolist(), heads)]
        return Analysis(results, pooled)

    def pooled(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Attention-masked mean of the last hidden state, (len(texts), hidden) float32.

        Same tokenisation and head+tail truncation as ``classify``; computed for every text
        (unscored ones included), so callers can train and apply their own heads on it.
        """
        self._check(texts)
        if not texts:
            return np.zeros((0, self.hidden_size), dtype=np.float32)
        return self._forward(list(texts), batch_size, combine=False)[1]

    def _result(self, row: list[float], heads: dict[str, float]) -> SentimentResult:
        p_pos, p_neg = row[self._pos], row[self._neg]
        probs = {self.labels[j]: round(p, 6) for j, p in enumerate(row)}
        score = max(-1.0, min(1.0, p_pos - p_neg))
        if self._neu is not None and row[self._neu] >= max(p_pos, p_neg):
            label = "neutral"
        else:
            # renormalise over pos/neg so a 3-class model uses the same band as a binary one
            label = self.band.label(p_pos / (p_pos + p_neg) if p_pos + p_neg > 0 else 0.5)
        return SentimentResult(label=label, score=round(score, 6), prob_positive=round(p_pos, 6),
                               probs=probs, heads=heads)


def pick_backend(path: Path, backend: str) -> str:
    """"onnx" or "torch" for a checkpoint dir: ``auto`` means ONNX when model.onnx is there."""
    from trustscope.sentiment.onnx_backend import ONNX_FILE, export_is_stale
    from trustscope.sentiment.onnx_cache import uses_cache

    backend = (backend or "auto").lower()
    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"sentiment backend must be auto, onnx or torch, not {backend!r}")
    if not (path / ONNX_FILE).exists() and uses_cache(path) and backend in ("auto", "onnx"):
        return "onnx"  # exports built into the cache outside the clone (onnx_cache)
    if backend == "auto":
        if not (path / ONNX_FILE).exists():
            return "torch"
        if export_is_stale(path):
            log.warning("%s/%s was exported from other weights than model.safetensors; serving with "
                        "torch (re-run `trustscope model export-onnx --model %s`)", path, ONNX_FILE, path)
            return "torch"
        return "onnx"
    if backend == "onnx" and not (path / ONNX_FILE).exists():
        raise FileNotFoundError(f"no {ONNX_FILE} in {path}; run `trustscope model export-onnx --model {path}`")
    return backend


def _load_onnx(path: Path, threads: int | None, quantize: bool):
    from trustscope.sentiment.fasttok import FastTokenizer
    from trustscope.sentiment.onnx_backend import (
        ONNX_FILE,
        ONNX_INT8_FILE,
        OnnxRunner,
        read_config,
    )

    from trustscope.sentiment.onnx_cache import ensure_export, uses_cache

    onnx_file = path / (ONNX_INT8_FILE if quantize else ONNX_FILE)
    if not (path / ONNX_FILE).exists() and uses_cache(path):
        onnx_file = ensure_export(path, quantize)
    if not onnx_file.exists():
        raise FileNotFoundError(f"no {onnx_file.name} in {path}; run `trustscope model export-onnx`")
    return OnnxRunner(onnx_file, threads), FastTokenizer(path), read_config(path)


def load_classifier(model_dir: str | None = None, threads: int | None = None,
                    max_length: int | None = None, quantize: bool | None = None,
                    backend: str | None = None) -> SentimentClassifier:
    """Load a checkpoint dir (default ``settings.sentiment_model_dir``) for CPU inference.

    ``threads`` / ``max_length`` / ``backend`` / ``quantize`` default to ``TS_TORCH_THREADS``
    (0 = all cores), ``TS_SENTIMENT_MAX_LENGTH``, ``TS_SENTIMENT_BACKEND`` and
    ``TS_SENTIMENT_INT8`` (ONNX: serve model.int8.onnx; torch: dynamic int8 quantisation).
    Raises FileNotFoundError when the directory has no model.
    """
    from trustscope.settings import get_settings

    s = get_settings()
    path = Path(model_dir or s.sentiment_model_dir).expanduser()
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no model checkpoint (config.json) in {path}")
    threads = s.torch_threads if threads is None else threads
    quantize = s.sentiment_int8 if quantize is None else quantize
    chosen = pick_backend(path, backend or s.sentiment_backend)
    if chosen == "onnx":
        runner, tok, config = _load_onnx(path, threads, quantize)
    else:
        from trustscope.sentiment.torch_backend import load_torch

        runner, tok, config = load_torch(path, threads, quantize)
    max_length = min(max_length or s.sentiment_max_length, int(config.get("max_position_embeddings", 512)))
    hidden = int(config.get("hidden_size", 0))
    name = config.get("_name_or_path") or path.name
    return SentimentClassifier(runner, tok, load_band(path), max_length, Path(name).name or str(path),
                               config["id2label"], load_heads(path, hidden), hidden, load_ensemble(path))
