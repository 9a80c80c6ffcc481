"""Exporting a checkpoint to ONNX for the torch-free serving path (``trustscope model export-onnx``).

The graph takes ``input_ids`` and ``attention_mask`` (int64, dynamic batch and sequence axes) and
returns ``logits`` and ``pooled`` (attention-masked mean of the last hidden state), the two things
the classifier needs. Eager attention is forced for the export: the SDPA path in transformers
drops an all-ones mask at trace time, which would bake "no padding" into the graph.
"""

from __future__ import annotations

from pathlib import Path

from trustscope.sentiment.onnx_backend import (
    EXPORT_INFO_FILE,
    ONNX_FILE,
    ONNX_INT8_FILE,
)

OPSET = 17


def _wrapper(model):
    import torch

    from trustscope.sentiment.torch_backend import masked_mean

    class LogitsAndPooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return out.logits, masked_mean(out.hidden_states[-1], attention_mask)

    return LogitsAndPooled(model).eval()


def export_onnx(model_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``model.onnx`` (fp32) into ``model_dir`` (or ``out``); returns its path."""
    import warnings

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    out = Path(out) if out else model_dir / ONNX_FILE
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), local_files_only=True, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    if not (model_dir / "tokenizer.json").exists():  # the torch-free tokenizer needs it
        AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True).save_pretrained(str(model_dir))
    # an example batch with padding, so the mask path is what gets traced
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 10, 3, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _wrapper(model), (ids, mask), str(out), input_names=["input_ids", "attention_mask"],
            output_names=["logits", "pooled"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "logits": {0: "batch"}, "pooled": {0: "batch"}})
    _write_export_info(model_dir, out.parent)
    return out


def _write_export_info(model_dir: Path, out_dir: Path | None = None) -> None:
    """Record which weights the ONNX files came from, so serving can notice a stale export.

    A model dir whose ONNX files live in the cache (``onnx_cache``) keeps its own onnx_export.json."""
    import json

    from trustscope.sentiment.heads import WEIGHTS_FILE, sha256_file
    from trustscope.settings import REPO_DIR

    weights = model_dir / WEIGHTS_FILE
    shown = model_dir.resolve()
    shown = shown.relative_to(REPO_DIR) if shown.is_relative_to(REPO_DIR) else shown
    info = {"base_model_sha256": sha256_file(weights) if weights.exists() else None, "opset": OPSET,
            "outputs": ["logits", "pooled"], "command": f"trustscope model export-onnx --model {shown}"}
    out_dir = out_dir or model_dir
    if out_dir.resolve() != model_dir.resolve():
        info["source"] = str(shown)
    (out_dir / EXPORT_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")


def quantize_onnx(model_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``model.int8.onnx`` (or ``out``): dynamic int8 quantisation of the MatMul weights of model.onnx."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(model_dir, ONNX_FILE), Path(out) if out else Path(model_dir, ONNX_INT8_FILE)
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    return dst
