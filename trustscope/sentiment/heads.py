"""Auxiliary heads: small logistic regressions on the classifier's pooled embedding.

Other engines (the integrity engine's "paid / templated review" head) train a linear probe on
``SentimentClassifier.pooled`` and drop it beside the model as ``<model_dir>/heads/<name>.json``::

    {"name": str, "weights": [hidden floats], "bias": float,
     "mean": [hidden floats] | null, "scale": [hidden floats] | null,
     "base_model_sha256": sha256 of <model_dir>/model.safetensors, ...metadata}

prob = sigmoid(w . ((x - mean) / scale) + b). The classifier evaluates every head in the same
forward pass as the sentiment, so a head costs one dot product per text. A head trained on another
model's embedding would give silent nonsense, hence the sha check: a mismatched head is skipped
with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEADS_DIR = "heads"
WEIGHTS_FILE = "model.safetensors"

log = logging.getLogger(__name__)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Head:
    name: str
    weights: np.ndarray  # (hidden,)
    bias: float
    mean: np.ndarray | None
    scale: np.ndarray | None

    def prob(self, pooled: np.ndarray) -> np.ndarray:
        """P(head) for pooled embeddings of shape (n, hidden); shape (n,), float64."""
        x = pooled.astype(np.float64)
        if self.mean is not None:
            x = x - self.mean
        if self.scale is not None:
            x = x / self.scale
        z = x @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))


def _vector(value, hidden: int, what: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (hidden,):
        raise ValueError(f"{what} has shape {arr.shape}, expected ({hidden},)")
    return arr


def parse_head(data: dict, hidden: int) -> Head:
    """A Head from a decoded head file; ValueError / KeyError when it does not fit ``hidden``."""
    weights = _vector(data["weights"], hidden, "weights")
    scale = _vector(data.get("scale"), hidden, "scale")
    if scale is not None and np.any(scale == 0):
        scale = np.where(scale == 0, 1.0, scale)  # a constant feature: sklearn's convention
    return Head(name=str(data["name"]), weights=weights, bias=float(data["bias"]),
                mean=_vector(data.get("mean"), hidden, "mean"), scale=scale)


def load_heads(model_dir: str | Path, hidden: int) -> list[Head]:
    """Every valid head in ``<model_dir>/heads``, sorted by file name; bad or stale ones skipped."""
    hdir = Path(model_dir, HEADS_DIR)
    files = sorted(hdir.glob("*.json")) if hdir.is_dir() else []
    if not files:
        return []
    weights = Path(model_dir, WEIGHTS_FILE)
    sha = sha256_file(weights) if weights.exists() else None
    heads: list[Head] = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("base_model_sha256") != sha:
                log.warning("sentiment head %s skipped: base_model_sha256 %s does not match %s (%s)",
                            path, data.get("base_model_sha256"), weights, sha)
                continue
            heads.append(parse_head(data, hidden))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("sentiment head %s skipped: %s", path, exc)
    return heads


def head_probs(heads: list[Head], pooled: np.ndarray) -> list[dict[str, float]]:
    """One ``{name: prob}`` dict per row of ``pooled``."""
    if not heads:
        return [{} for _ in range(len(pooled))]
    cols = {h.name: h.prob(pooled) for h in heads}
    return [{name: round(float(p[i]), 6) for name, p in cols.items()} for i in range(len(pooled))]
