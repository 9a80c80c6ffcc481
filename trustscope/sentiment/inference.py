"""Length-bucketed batched forward passes, shared by the classifier and the training evaluation.

Sorting by token length before batching means each batch pads only to its own longest text, which
on review-length inputs (median ~30 characters, long tail) roughly halves the work.
"""

from __future__ import annotations

from collections.abc import Sequence

from trustscope.sentiment.textprep import encode_batch, pad_batch, pad_batch_np


def softmax(logits):
    """Row-wise softmax of a numpy array, in float32."""
    import numpy as np

    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def run_bucketed(runner, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64):
    """(probabilities (n, num_labels), pooled (n, hidden)) in input order, both float32 numpy.

    ``runner.forward(ids, mask) -> (logits, pooled)`` is the backend (ONNX Runtime or torch);
    this function is torch-free so the ONNX serving path never imports torch.
    """
    import numpy as np

    n = len(texts)
    seqs = encode_batch(tokenizer, list(texts), max_length)
    order = sorted(range(n), key=lambda i: len(seqs[i]))
    probs = pooled = None
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        ids, mask = pad_batch_np([seqs[i] for i in idx], tokenizer.pad_token_id)
        logits, pool = runner.forward(ids, mask)
        if probs is None:
            probs = np.empty((n, logits.shape[1]), dtype=np.float32)
            pooled = np.empty((n, pool.shape[1]), dtype=np.float32)
        probs[idx] = softmax(logits)
        pooled[idx] = pool
    return probs, pooled


def predict_probs(model, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64,
                  device: str = "cpu"):
    """Softmax probabilities, shape (len(texts), num_labels), in the input order."""
    import torch

    n = len(texts)
    out = torch.empty((n, model.config.num_labels), dtype=torch.float32)
    if n == 0:
        return out
    seqs = encode_batch(tokenizer, list(texts), max_length)
    order = sorted(range(n), key=lambda i: len(seqs[i]))
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            ids, mask = pad_batch([seqs[i] for i in idx], tokenizer.pad_token_id)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            out[idx] = torch.softmax(logits.float(), dim=-1).cpu()
    if was_training:
        model.train()
    return out
