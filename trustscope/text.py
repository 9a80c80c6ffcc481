"""Text normalisation applied once, at intake, so every later stage sees the same characters.

NFKC folds full-width Latin and digits (ｐ２ｐ -> p2p) and compatibility forms; control and zero-width
characters are removed because they are invisible to readers but split words for search and are a
favourite trick for evading duplicate detection. A simplified-Chinese copy (OpenCC t2s) is kept for
search, so a query in simplified characters finds posts written in traditional ones.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Zero-width and bidi formatting characters (category Cf) plus C0/C1 controls except \n and \t.
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e"
                        r"\u2060-\u2064\u2066-\u206f\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def normalize_text(text: str) -> str:
    """NFKC, invisible characters removed, runs of spaces folded, ends trimmed.

    Idempotent (normalising twice changes nothing; a property test checks it): invisible characters
    go *before* NFKC too, since one between a letter and a combining mark would otherwise keep them
    apart until a second pass composed them.
    """
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()



def required_text(text: str) -> str:
    """``normalize_text``, refusing text that was only invisible characters (a validator's error)."""
    text = normalize_text(text)
    if not text:
        raise ValueError("text is empty after removing invisible characters")
    return text

@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Simplified-Chinese copy of ``text`` (other scripts pass through unchanged)."""
    if not _CJK.search(text):
        return text
    return _t2s().convert(text)


def detect_language(text: str) -> str:
    """A coarse language tag: ``zh`` when Chinese characters dominate the letters, else ``en``/``und``.

    Coarse on purpose: the only decision downstream is "score with the Chinese model or not".
    """
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0 and latin == 0:
        return "und"
    if cjk >= max(2, latin // 4):
        return "zh"
    return "en" if latin else "und"
