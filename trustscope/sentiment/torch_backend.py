"""Serving any Hugging Face BERT-family checkpoint with torch (the fallback backend).

Used when a checkpoint directory has no ``model.onnx`` (a user's own fine-tuned model) or when
``TS_SENTIMENT_BACKEND=torch``. Gives the same two outputs as the ONNX graph, so the classifier
does not care which backend it has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def masked_mean(hidden, mask):
    """Mean of ``hidden`` (batch, seq, dim) over the positions where ``mask`` (batch, seq) is 1."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class TorchRunner:
    """``forward(ids, mask) -> (logits, pooled)`` on int64 numpy arrays, float32 results."""

    backend = "torch"

    def __init__(self, model):
        self.model = model

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        t_mask = torch.from_numpy(mask)
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=t_mask,
                             output_hidden_states=True)
            pooled = masked_mean(out.hidden_states[-1].float(), t_mask)
            return out.logits.float().numpy(), pooled.numpy()


def _quantize(model):
    """Dynamic int8 quantisation of the Linear layers (opt-in: measured, see docs/benchmarks.md)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def load_torch(path: Path, threads: int | None, quantize: bool = False):
    """(runner, tokenizer, config dict) for a checkpoint dir, on the CPU in eval mode."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if threads and threads > 0:
        torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), local_files_only=True, dtype=torch.float32)
    model.eval()
    config = model.config.to_dict()
    config["_name_or_path"] = getattr(model.config, "_name_or_path", "")
    if quantize:
        model = _quantize(model)
    return TorchRunner(model), tok, config
