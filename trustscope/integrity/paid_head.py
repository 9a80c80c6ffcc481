"""The "paid review" text head: a logistic regression on the sentiment BERT's pooled embedding.

File contract (shared with the sentiment classifier's serving side, which loads heads the same way):
``<model_dir>/heads/<name>.json`` =
``{"name", "weights": [hidden], "bias", "mean": [hidden] | null, "scale": [hidden] | null,
"base_model_sha256": sha256 of <model_dir>/model.safetensors, ...metadata}`` and
``prob = sigmoid(w . ((x - mean) / scale) + b)`` where ``x`` is the attention-masked mean of the
encoder's last hidden state over the tokens of ``textprep.encode_batch`` (the classifier's own
tokenisation and head+tail truncation).

The integrity engine only needs the probability: in the streaming service it arrives in
``document.sentiment.heads["paid_review"]``; in the batch CLI and the evaluation it is computed here
(``PaidHead``), from the classifier's ``pooled()`` when it has one, else from its encoder directly.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

NAME = "paid_review"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def head_path(model_dir: str | Path, name: str = NAME) -> Path:
    return Path(model_dir) / "heads" / f"{name}.json"


@dataclass
class HeadFile:
    """A loaded head: ``prob(x)`` for pooled embeddings ``x`` of shape (n, hidden)."""

    name: str
    weights: list[float]
    bias: float
    mean: list[float] | None
    scale: list[float] | None
    base_model_sha256: str
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> HeadFile:
        d = orjson.loads(Path(path).read_bytes())
        missing = [k for k in ("name", "weights", "bias", "base_model_sha256") if k not in d]
        if missing:
            raise ValueError(f"{path}: head file lacks {', '.join(missing)}")
        w = [float(v) for v in d["weights"]]
        for k in ("mean", "scale"):
            if d.get(k) is not None and len(d[k]) != len(w):
                raise ValueError(f"{path}: {k} has {len(d[k])} values, weights {len(w)}")
        meta = {k: v for k, v in d.items() if k not in ("name", "weights", "bias", "mean", "scale",
                                                         "base_model_sha256")}
        return cls(str(d["name"]), w, float(d["bias"]), d.get("mean"), d.get("scale"),
                   str(d["base_model_sha256"]), meta)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.weights, "bias": self.bias, "mean": self.mean,
                "scale": self.scale, "base_model_sha256": self.base_model_sha256, **self.meta}

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
                         + b"\n")

    @property
    def hidden(self) -> int:
        return len(self.weights)

    @property
    def threshold(self) -> float:
        """The operating threshold chosen on the validation seeds (0.5 if the file has none)."""
        return float(self.meta.get("threshold", 0.5))

    def prob(self, x: Any) -> Any:
        """sigmoid(w . ((x - mean) / scale) + b) for a (n, hidden) array; returns (n,) floats."""
        import numpy as np

        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.hidden:
            raise ValueError(f"expected embeddings of shape (n, {self.hidden}), got {x.shape}")
        if self.mean is not None:
            x = x - np.asarray(self.mean, dtype=np.float64)
        if self.scale is not None:
            x = x / np.asarray(self.scale, dtype=np.float64)
        z = x @ np.asarray(self.weights, dtype=np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def matches(self, model_dir: str | Path) -> bool:
        """Whether this head was trained on the model.safetensors in ``model_dir``."""
        st = Path(model_dir) / "model.safetensors"
        return st.exists() and sha256_file(st) == self.base_model_sha256


def encoder_of(model: Any) -> Any:
    """The BERT encoder of a sequence-classification model (or the model itself if it is one)."""
    prefix = getattr(model, "base_model_prefix", "") or ""
    base = getattr(model, prefix, None) if prefix else None
    return base if base is not None else model


def pooled_embeddings(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int,
                      batch_size: int = 128) -> Any:
    """Attention-masked mean of the encoder's last hidden state, (n, hidden) float32 numpy, in input
    order; same tokenisation and head+tail truncation as the sentiment classifier."""
    import numpy as np
    import torch

    from trustscope.sentiment.textprep import encode_batch, pad_batch

    enc = encoder_of(model)
    hidden = int(enc.config.hidden_size)
    out = np.zeros((len(texts), hidden), dtype=np.float32)
    if not texts:
        return out
    seqs = encode_batch(tokenizer, list(texts), max_length)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    was_training = enc.training
    enc.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, mask = pad_batch([seqs[i] for i in idx], tokenizer.pad_token_id)
            h = enc(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            m = mask.unsqueeze(-1).to(h.dtype)
            out[idx] = ((h * m).sum(1) / m.sum(1).clamp(min=1.0)).numpy()
    if was_training:
        enc.train()
    return out


class Encoder:
    """Pooled embeddings from a model directory (AutoModel + the classifier's tokenisation), or from
    a loaded ``SentimentClassifier`` (its ``pooled()`` when present, else its model's encoder)."""

    def __init__(self, model_dir: str | Path | None = None, classifier: Any = None,
                 max_length: int | None = None) -> None:
        self.classifier = classifier
        if classifier is not None:
            self.model, self.tokenizer = classifier.model, classifier.tokenizer
            self.max_length = int(classifier.max_length)
            return
        import torch  # noqa: F401  (fail early with a clear ImportError)
        from transformers import AutoModel, AutoTokenizer

        from trustscope.settings import get_settings

        path = Path(model_dir or get_settings().sentiment_model_dir).expanduser()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no model checkpoint (config.json) in {path}")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.model.eval()
        limit = int(getattr(self.model.config, "max_position_embeddings", 512))
        self.max_length = min(max_length or get_settings().sentiment_max_length, limit)

    def __call__(self, texts: Sequence[str]) -> Any:
        pooled = getattr(self.classifier, "pooled", None)
        if pooled is not None:
            return pooled(list(texts))
        return pooled_embeddings(self.model, self.tokenizer, texts, self.max_length)


class PaidHead:
    """Text -> paid-review probability (None where the text is empty), with a per-text cache
    (evaluation streams share most of their texts)."""

    def __init__(self, head: HeadFile, encoder: Encoder, cache_size: int = 500_000) -> None:
        self.head = head
        self.encoder = encoder
        self._cache: dict[str, float] = {}
        self._cache_size = cache_size

    @classmethod
    def from_model_dir(cls, model_dir: str | Path | None = None, classifier: Any = None,
                       name: str = NAME) -> PaidHead | None:
        """The head shipped with the model, or None when the model dir has no such head."""
        from trustscope.settings import get_settings

        d = Path(model_dir or get_settings().sentiment_model_dir).expanduser()
        path = head_path(d, name)
        if not path.exists():
            return None
        return cls(HeadFile.load(path), Encoder(d, classifier=classifier))

    def __call__(self, texts: Sequence[str]) -> list[float | None]:
        todo = list(dict.fromkeys(t for t in texts if t and t.strip() and t not in self._cache))
        if todo:
            if len(self._cache) + len(todo) > self._cache_size:
                self._cache.clear()
            for t, p in zip(todo, self.head.prob(self.encoder(todo)).tolist()):
                self._cache[t] = round(float(p), 4)
        return [self._cache.get(t) if t and t.strip() else None for t in texts]


def heads_of(value: Any) -> dict[str, float] | None:
    """The ``heads`` mapping of a classification result (object or dict), if it has one."""
    heads = value.get("heads") if isinstance(value, dict) else getattr(value, "heads", None)
    return heads if isinstance(heads, dict) else None


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
