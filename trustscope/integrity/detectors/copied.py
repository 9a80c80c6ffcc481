"""Copy attribution by time: a text that repeats an *earlier* review by another author.

Why a second index beside ``duplicate``: near-duplicate clusters are per platform and say nothing
about who wrote first, so a campaign that posts verbatim copies of other platforms' older honest
reviews (one copy each) forms no cluster at all, and a cluster's founder is flagged with its
copies. Here every substantial review (``MIN_CHARS`` skeleton characters and ``MIN_SHINGLES``
distinct shingles: "很好用" and "物流很快" match each other by nature and are never indexed) is
indexed *across platforms*; the first review to hold an LSH band keeps it, so the earliest holder
is the original and only later reviews of other authors that match it get this signal.

Order-insensitive: shingles are the character bigrams *within* each clause (clauses split at
punctuation, each folded to its skeleton), so reordering clauses or changing punctuation leaves
the shingle set unchanged; a dropped or swapped character changes only two shingles.
MinHash: 48 permutations (own seed); 6 global bands of 4 rows; a candidate is confirmed with the
holder's stored 1-byte-per-value signature (estimated Jaccard >= ``MATCH``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zlib
from functools import lru_cache

import numpy as np
from datasketch import MinHash

from trustscope.integrity.detectors import Signal, ramp
from trustscope.integrity.detectors.duplicate import _DIGITS, _LATIN, _keep, compact, jaccard_compact, skeleton
from trustscope.text import normalize_text, to_simplified

NUM_PERM = 48
BANDS = 6
ROWS = 4
SEED = 20261201
MIN_CHARS = 14  # skeleton characters below which a text is too generic to attribute
MIN_SHINGLES = 12
MATCH = 0.6  # estimated Jaccard with the holder to count as a copy
FULL = 0.85  # ... at which the signal is 1
_SPLIT = re.compile(r"[，,。.！!？?；;:：~～…\s、]+")


@lru_cache(maxsize=1)
def _template() -> MinHash:
    return MinHash(num_perm=NUM_PERM, seed=SEED)


def clause_shingles(text: str) -> list[bytes]:
    """Bigrams within each clause's skeleton (order- and punctuation-insensitive). The text is
    normalised once (NFKC, simplified, lower case) and then split, not normalised per clause."""
    out: set[bytes] = set()
    norm = to_simplified(normalize_text(text)).lower()
    for clause in _SPLIT.split(norm):
        sk = _LATIN.sub("a", _DIGITS.sub("0", "".join(ch for ch in clause if _keep(ch))))
        for i in range(len(sk) - 1):
            out.add(sk[i:i + 2].encode("utf-8"))
    return list(out)


def signature(text: str, skel: str | None = None) -> np.ndarray | None:
    """MinHash of the clause shingles, or None when the text is below the information threshold
    (``skel``: the text's ``duplicate.skeleton`` when the caller has it already)."""
    if len(skel if skel is not None else skeleton(text)) < MIN_CHARS:
        return None
    sh = clause_shingles(text)
    if len(sh) < MIN_SHINGLES:
        return None
    return minhash(sh)


def minhash(sh: list[bytes]) -> np.ndarray:
    """MinHash values (uint32[NUM_PERM]) of a shingle set, identical in every process."""
    base = _template()
    m = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=base.permutations, scheme=base.scheme)
    m.update_batch(sh)
    return m.hashvalues.astype(np.uint32)


def band_keys(sig: np.ndarray) -> list[bytes]:
    """Global (not per platform) band keys; the first byte keeps them apart from ``duplicate``'s."""
    return [bytes([0x80 + b]) + hashlib.blake2b(sig[b * ROWS:(b + 1) * ROWS].tobytes(), digest_size=6).digest()
            for b in range(BANDS)]


def holder_id(review_id: str) -> str:
    """8-character id (48-bit hash) under which a review's copy-index entry is stored."""
    return base64.urlsafe_b64encode(hashlib.blake2b(review_id.encode("utf-8"), digest_size=6).digest()).decode()


def pack_holder(sig: np.ndarray, created_at: float, author: str) -> bytes:
    """What is kept per indexed review: 48-byte signature, time (uint32 s), author crc32 - 56 bytes."""
    return compact(sig) + struct.pack(">II", int(created_at) & 0xFFFFFFFF, zlib.crc32(author.encode("utf-8")))


def match(sig: np.ndarray, holder: bytes, created_at: float, author: str) -> tuple[float, float] | None:
    """(estimated Jaccard, days since the holder) if ``holder`` is an earlier review by another author
    whose text this one repeats, else None."""
    if len(holder) != NUM_PERM + 8:
        return None
    t_h, a_h = struct.unpack(">II", holder[NUM_PERM:])
    if a_h == zlib.crc32(author.encode("utf-8")) or t_h >= int(created_at):
        return None
    j = jaccard_compact(sig, holder[:NUM_PERM])
    if j < MATCH:
        return None
    return j, (int(created_at) - t_h) / 86_400


def score(jaccard: float | None, gap_days: float | None) -> Signal:
    """Evidence that this review repeats an earlier review of another author."""
    if jaccard is None:
        return Signal("copied_text", 0.0)
    s = ramp(jaccard, MATCH - 0.1, FULL)
    what = "repeats" if jaccard >= 0.95 else "nearly repeats"
    return Signal("copied_text", s, f"text {what} a review another author posted {gap_days:.0f} days earlier")


SERIAL_LO, SERIAL_HI = 1, 4  # copies by one author: one is chance, four is a habit
SHARE_LO, SHARE_HI = 0.15, 0.4  # ... as a share of the author's reviews


def serial(copies: int, reviews: int) -> Signal:
    """Evidence that the *author* repeatedly copies other authors' earlier reviews.

    Why: an honest user's text matches an earlier review now and then (short generic reviews,
    pasting the same praise twice), but rarely more than once, and rarely for a large share of
    what they write; an account that fills its reviews with other people's older texts does
    both. The author-level evidence reaches the copier's reviews that are too short to attribute
    (below the information threshold) and copies whose match alone is weak. ``copies``: the
    author's reviews that carry ``copied_text``; ``reviews``: the author's reviews seen."""
    if copies <= SERIAL_LO or reviews <= 0:
        return Signal("serial_copier", 0.0)
    s = ramp(copies, SERIAL_LO, SERIAL_HI) * ramp(copies / reviews, SHARE_LO, SHARE_HI)
    if s <= 0:
        return Signal("serial_copier", 0.0)
    return Signal("serial_copier", s, f"{copies} of the author's {reviews} reviews repeat earlier reviews of others")

