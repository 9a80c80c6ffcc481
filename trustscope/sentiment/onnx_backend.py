"""Serving a BERT checkpoint exported to ONNX with ONNX Runtime, without importing torch.

Why: on this CPU-only deployment the torch wheel alone costs ~650 MB of resident memory at import
(it is the CUDA build) and its eager kernels are slower than ONNX Runtime's fused graph for a
small BERT. ``model.onnx`` is written by ``trustscope model export-onnx`` and has two outputs,
``logits`` and ``pooled`` (attention-masked mean of the last hidden state).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
EXPORT_INFO_FILE = "onnx_export.json"  # sha256 of the weights the ONNX files were exported from


def export_is_stale(model_dir: str | Path) -> bool:
    """True when onnx_export.json names other weights than the dir's model.safetensors (the
    checkpoint was replaced after the export); False when either file is missing (nothing to check)."""
    from trustscope.sentiment.heads import WEIGHTS_FILE, sha256_file

    info, weights = Path(model_dir, EXPORT_INFO_FILE), Path(model_dir, WEIGHTS_FILE)
    if not info.exists() or not weights.exists():
        return False
    recorded = json.loads(info.read_text(encoding="utf-8")).get("base_model_sha256")
    return bool(recorded) and recorded != sha256_file(weights)


class OnnxRunner:
    """``forward(ids, mask) -> (logits, pooled)`` on int64 numpy arrays, float32 results."""

    backend = "onnx"

    def __init__(self, onnx_path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads if threads and threads > 0 else 0  # 0 = ORT's default
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(onnx_path)
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        logits, pooled = self.session.run(["logits", "pooled"], feed)
        return logits.astype(np.float32, copy=False), pooled.astype(np.float32, copy=False)


def read_config(model_dir: str | Path) -> dict:
    """The checkpoint's config.json as a dict (id2label, hidden_size, max_position_embeddings)."""
    return json.loads(Path(model_dir, "config.json").read_text(encoding="utf-8"))
