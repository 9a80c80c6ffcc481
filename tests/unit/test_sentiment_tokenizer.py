"""Tokenizer: one token per CJK character, word pieces for Latin, saved/loaded via AutoTokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustscope.settings import DEFAULT_MODEL_DIR

CORPUS = [
    "这个理财平台的收益很稳定", "提现速度很快，客服态度好", "app经常闪退，体验很差",
    "iPhone15的价格太贵了", "download the app and login", "利率3.5%左右", "手机银行转账方便",
] * 20


@pytest.fixture(scope="module")
def trained_tok(tmp_path_factory):
    from trustscope.sentiment.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(CORPUS, out, vocab_size=300, min_frequency=1)
    return out


def _check_chinese_chars(tok):
    text = "收益很稳定"
    toks = tok.tokenize(text)
    assert toks == list(text)
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.decode(ids, skip_special_tokens=True).replace(" ", "") == text


def test_trained_tokenizer_roundtrip(trained_tok):
    from transformers import AutoTokenizer, BertTokenizerFast

    tok = AutoTokenizer.from_pretrained(str(trained_tok), local_files_only=True)
    assert isinstance(tok, BertTokenizerFast)
    _check_chinese_chars(tok)
    pieces = tok.tokenize("downloading")
    assert len(pieces) >= 1 and all(p.startswith("##") for p in pieces[1:])
    assert "".join(p.removeprefix("##") for p in pieces) == "downloading"
    mixed = tok.tokenize("app闪退")
    assert mixed[-2:] == ["闪", "退"]


def test_trained_tokenizer_save_load_identical(trained_tok, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(trained_tok), local_files_only=True)
    tok.save_pretrained(str(tmp_path))
    again = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    for text in CORPUS[:7]:
        assert again(text)["input_ids"] == tok(text)["input_ids"]


def test_shipped_tokenizer_one_token_per_cjk_char():
    from transformers import AutoTokenizer

    if not (Path(DEFAULT_MODEL_DIR) / "vocab.txt").exists():
        pytest.fail(f"shipped model missing at {DEFAULT_MODEL_DIR}")
    tok = AutoTokenizer.from_pretrained(str(DEFAULT_MODEL_DIR), local_files_only=True)
    _check_chinese_chars(tok)
    text = "这个APP的利息太高了"
    toks = tok.tokenize(text)
    assert [t for t in toks if len(t) == 1 and "\u4e00" <= t <= "\u9fff"] == [c for c in text if "\u4e00" <= c <= "\u9fff"]
    assert "app" in toks  # lower-cased Latin word kept whole
