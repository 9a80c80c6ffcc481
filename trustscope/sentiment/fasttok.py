"""A torch-free tokenizer for serving: the Rust ``tokenizers`` library reading ``tokenizer.json``.

Why not ``transformers.AutoTokenizer``: importing transformers pulls in a large import graph (and,
on some paths, torch), which is what kept the sentiment service over its memory budget. The Rust
tokenizer is the same one transformers' fast tokenizer wraps, so the ids are identical.
"""

from __future__ import annotations

import json
from pathlib import Path

TOKENIZER_FILE = "tokenizer.json"


def _special(model_dir: Path, key: str, default: str) -> str:
    """A special token's text from special_tokens_map.json / tokenizer_config.json."""
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = model_dir / name
        if path.exists():
            value = json.loads(path.read_text(encoding="utf-8")).get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                return value
    return default


class FastTokenizer:
    """The slice of the transformers tokenizer API that ``textprep.encode_batch`` uses."""

    def __init__(self, model_dir: str | Path):
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        self._tok = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self._tok.no_truncation()  # we truncate head+tail ourselves
        self._tok.no_padding()
        ids = {}
        for role, default in (("cls", "[CLS]"), ("sep", "[SEP]"), ("pad", "[PAD]")):
            token = _special(model_dir, f"{role}_token", default)
            ids[role] = self._tok.token_to_id(token)
            if ids[role] is None:
                raise ValueError(f"{model_dir / TOKENIZER_FILE}: special token {token!r} not in vocabulary")
        self.cls_token_id, self.sep_token_id, self.pad_token_id = ids["cls"], ids["sep"], ids["pad"]

    def __call__(self, texts: list[str], add_special_tokens: bool = False, **_ignored) -> dict:
        encs = self._tok.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encs]}
