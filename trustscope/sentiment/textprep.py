"""Text checks and token-budget handling shared by training and inference.

Why hand-written: the rules are a few lines and must be identical at training and serving time
(a library would not know our head+tail split or what counts as "Chinese enough" to score).
"""

from __future__ import annotations

import unicodedata

# Characters kept from each end of an over-long text before tokenizing, per token of budget;
# bounds tokenizer work on 20k-character inputs while leaving plenty for the head+tail cut.
_CHARS_PER_TOKEN_BUDGET = 4


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0xF900 <= cp <= 0xFAFF or 0x2A700 <= cp <= 0x2EBEF)


def _is_kana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x30FF


def unscored_reason(text: str) -> str | None:
    """``None`` when the text should be scored, else why not ("empty" / "not_chinese").

    A text is scored when at least 30% of its letters are Han characters and Japanese kana do not
    dominate; this marks English, Korean, Japanese and emoji/number-only texts as unscored instead
    of giving them a confident but meaningless label.
    """
    if not text or not text.strip():
        return "empty"
    han = kana = letters = 0
    for ch in text:
        if _is_han(ch):
            han += 1
            letters += 1
        elif _is_kana(ch):
            kana += 1
            letters += 1
        elif unicodedata.category(ch).startswith("L"):
            letters += 1
    if han == 0 or han < 0.3 * letters or kana > 0.5 * han:
        return "not_chinese"
    return None


def clip_chars(text: str, max_tokens: int) -> str:
    """Cut a very long text to head+tail characters before tokenizing (cheap, keeps both ends)."""
    keep = max_tokens * _CHARS_PER_TOKEN_BUDGET
    if len(text) <= 2 * keep:
        return text
    return text[:keep] + "…" + text[-keep:]


def head_tail(ids: list[int], budget: int) -> list[int]:
    """Keep the first third and the last two thirds of ``budget`` tokens.

    Sun et al. (2019, "How to Fine-Tune BERT for Text Classification") found head+tail truncation
    better than head-only for long reviews: the verdict is often at the end.
    """
    if len(ids) <= budget:
        return ids
    head = budget // 3
    return ids[:head] + ids[len(ids) - (budget - head):]


def encode_batch(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids with [CLS]/[SEP], head+tail truncated to ``max_length``."""
    # lone surrogates (from "\\ud800" JSON escapes) make the Rust tokenizer raise for the whole
    # batch; replace them with "?" so one odd text cannot fail its neighbours
    clipped = [clip_chars(t, max_length).encode("utf-8", "replace").decode("utf-8") for t in texts]
    enc = tokenizer(clipped, add_special_tokens=False, return_attention_mask=False,
                    return_token_type_ids=False, verbose=False)["input_ids"]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    return [[cls_id] + head_tail(ids, max_length - 2) + [sep_id] for ids in enc]


def pad_batch_np(seqs: list[list[int]], pad_id: int):
    """Right-pad to the longest sequence; returns (input_ids, attention_mask) int64 numpy arrays.

    numpy, not torch, so the ONNX serving path never imports torch.
    """
    import numpy as np

    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def pad_batch(seqs: list[list[int]], pad_id: int):
    """Right-pad to the longest sequence; returns (input_ids, attention_mask) torch tensors."""
    import torch

    ids, mask = pad_batch_np(seqs, pad_id)
    return torch.from_numpy(ids), torch.from_numpy(mask)
