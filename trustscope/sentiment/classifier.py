"""Loading a BERT-family checkpoint and classifying texts fast on a CPU.

Works with any Hugging Face sequence-classification checkpoint directory: labels are read from
``config.id2label``; the positive / negative / neutral classes are found by name (``LABEL_0`` /
``LABEL_1`` style binary checkpoints are read as 0 = negative, 1 = positive). Loading never touches
the network.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from trustscope.sentiment.calibration import NeutralBand, load_band
from trustscope.sentiment.inference import predict_probs
from trustscope.sentiment.result import SentimentResult
from trustscope.sentiment.textprep import unscored_reason

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


class SentimentClassifier:
    """A loaded model plus its tokenizer, neutral band and settings; thread-safe ``classify``."""

    def __init__(self, model, tokenizer, band: NeutralBand, max_length: int, model_name: str):
        self.model = model
        self.tokenizer = tokenizer
        self.band = band
        self.max_length = max_length
        self.model_name = model_name
        self.labels = {int(i): str(n) for i, n in model.config.id2label.items()}
        self._pos, self._neg, self._neu = _label_roles(model.config.id2label)
        self._lock = threading.Lock()  # one forward at a time: torch already uses every thread

    def classify(self, texts: Sequence[str], batch_size: int = 64) -> list[SentimentResult]:
        """One result per text, in input order. Non-strings raise TypeError."""
        results: list[SentimentResult | None] = [None] * len(texts)
        todo: list[int] = []
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"text {i} is {type(t).__name__}, expected str")
            reason = unscored_reason(t)
            if reason:
                results[i] = SentimentResult.unscored(reason)
            else:
                todo.append(i)
        if todo:
            with self._lock:
                probs = predict_probs(self.model, self.tokenizer, [texts[i] for i in todo],
                                      self.max_length, batch_size)
            for row, i in zip(probs.tolist(), todo):
                results[i] = self._result(row)
        return results  # type: ignore[return-value]

    def _result(self, row: list[float]) -> SentimentResult:
        p_pos, p_neg = row[self._pos], row[self._neg]
        probs = {self.labels[j]: round(p, 6) for j, p in enumerate(row)}
        score = max(-1.0, min(1.0, p_pos - p_neg))
        if self._neu is not None and row[self._neu] >= max(p_pos, p_neg):
            label = "neutral"
        else:
            # renormalise over pos/neg so a 3-class model uses the same band as a binary one
            label = self.band.label(p_pos / (p_pos + p_neg) if p_pos + p_neg > 0 else 0.5)
        return SentimentResult(label=label, score=round(score, 6), prob_positive=round(p_pos, 6),
                               probs=probs)


def _quantize(model):
    """Dynamic int8 quantisation of the Linear layers (opt-in: measured, see docs/benchmarks.md)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def load_classifier(model_dir: str | None = None, threads: int | None = None,
                    max_length: int | None = None, quantize: bool = False) -> SentimentClassifier:
    """Load a checkpoint dir (default ``settings.sentiment_model_dir``) for CPU inference.

    ``threads`` / ``max_length`` default to ``TS_TORCH_THREADS`` (0 = all cores) and
    ``TS_SENTIMENT_MAX_LENGTH``. Raises FileNotFoundError when the directory has no model.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trustscope.settings import get_settings

    s = get_settings()
    path = Path(model_dir or s.sentiment_model_dir).expanduser()
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no model checkpoint (config.json) in {path}")
    threads = s.torch_threads if threads is None else threads
    if threads and threads > 0:
        torch.set_num_threads(threads)
    max_length = max_length or s.sentiment_max_length
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), local_files_only=True, dtype=torch.float32)
    model.eval()
    pos_limit = getattr(model.config, "max_position_embeddings", 512)
    max_length = min(max_length, pos_limit)
    if quantize:
        model = _quantize(model)
    name = getattr(model.config, "_name_or_path", "") or path.name
    return SentimentClassifier(model, tok, load_band(path), max_length, Path(name).name or str(path))
