"""Training a BERT-style Chinese tokenizer and saving it in Hugging Face format.

Each CJK character becomes its own token (as in bert-base-chinese, via ``handle_chinese_chars``);
Latin letters and digits get WordPiece pieces. Saved as ``BertTokenizerFast`` so that
``AutoTokenizer.from_pretrained(dir)`` loads it with no custom code.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 8000,
                    min_frequency: int = 2, model_max_length: int = 256):
    """Learn a WordPiece vocabulary from ``texts`` and save a ``BertTokenizerFast`` to ``out_dir``."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wp = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                lowercase=True)
    wp.train_from_iterator(iter(texts), vocab_size=vocab_size, min_frequency=min_frequency,
                           special_tokens=SPECIAL_TOKENS, limit_alphabet=vocab_size // 2,
                           wordpieces_prefix="##", show_progress=False)
    wp.save_model(str(out))
    tok = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True,
                            tokenize_chinese_chars=True, strip_accents=False,
                            model_max_length=model_max_length)
    tok.save_pretrained(str(out))
    return tok
