"""ONNX exports kept outside the clone, for a model dir that ships only its weights.

Why: the accurate option (models/trustscope-sentiment-bge-zh) commits fp16 safetensors (48 MB);
its fp32 / int8 ONNX files (96 / 57 MB) would break the 60 MB budget, so they are derived files
built once per machine under ``{TS_SENTIMENT_ONNX_CACHE_DIR}/<sha256 of model.safetensors>/``.
A model dir opts in with ``"location": "cache"`` in its ``onnx_export.json``. The export needs
torch (``pip install 'trustscope[train]'``); the int8 quantisation needs only ONNX Runtime.
Keying by the weights' checksum means a changed checkpoint never meets a stale export.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from trustscope.sentiment.onnx_backend import EXPORT_INFO_FILE, ONNX_FILE, ONNX_INT8_FILE

log = logging.getLogger(__name__)


def uses_cache(model_dir: str | Path) -> bool:
    """True when the dir's onnx_export.json says its ONNX files live in the cache."""
    info = Path(model_dir, EXPORT_INFO_FILE)
    if not info.exists():
        return False
    return json.loads(info.read_text(encoding="utf-8")).get("location") == "cache"


def cache_dir_for(model_dir: str | Path) -> Path:
    """Where the exports of these weights live (not created)."""
    from trustscope.sentiment.heads import WEIGHTS_FILE, sha256_file
    from trustscope.settings import get_settings

    root = Path(get_settings().sentiment_onnx_cache_dir).expanduser()
    return root / sha256_file(Path(model_dir, WEIGHTS_FILE))[:32]


def export_hint(model_dir: str | Path) -> str:
    return (f"install the training extra (pip install 'trustscope[train]') and run "
            f"`trustscope model export-onnx --model {model_dir}` once (writes to {cache_dir_for(model_dir)}), "
            f"or serve with TS_SENTIMENT_BACKEND=torch")


def ensure_export(model_dir: str | Path, quantize: bool) -> Path:
    """The cached ONNX file for ``model_dir`` (int8 when ``quantize``), building it when missing.

    Raises FileNotFoundError naming the export command when the fp32 export is missing and torch
    is not installed. Concurrent builders are safe: each writes a private temp dir, then renames.
    """
    model_dir = Path(model_dir)
    target = cache_dir_for(model_dir)
    if not (target / ONNX_FILE).exists():
        if importlib.util.find_spec("torch") is None:
            raise FileNotFoundError(f"no cached ONNX export of {model_dir}: {export_hint(model_dir)}")
        from trustscope.sentiment.onnx_export import export_onnx

        log.info("exporting %s to ONNX into %s (once per machine)", model_dir, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        try:
            export_onnx(model_dir, tmp / ONNX_FILE)
            tmp.chmod(0o755)
            tmp.rename(target)
        except OSError:
            if not (target / ONNX_FILE).exists():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if quantize and not (target / ONNX_INT8_FILE).exists():
        from trustscope.sentiment.onnx_export import quantize_onnx

        log.info("quantising the cached ONNX export of %s to int8", model_dir)
        fd, part = tempfile.mkstemp(prefix=".int8-", suffix=".onnx", dir=target)
        os.close(fd)
        quantize_onnx(target, Path(part))
        os.chmod(part, 0o644)
        os.replace(part, target / ONNX_INT8_FILE)
    return target / (ONNX_INT8_FILE if quantize else ONNX_FILE)
