"""Near-duplicate and templated text: MinHash over character shingles of a text *skeleton*.

The skeleton is what stays when a template's slots are filled differently: traditional characters
folded to simplified, digits -> ``0``, Latin runs -> ``a``, emoji/symbols and punctuation dropped,
whitespace removed. Shingles are character bigrams (the natural unit of Chinese words, more robust
to synonym swaps and clause reordering than trigrams). MinHash signatures come from datasketch with
fixed permutations (same seed in every replica, so signatures agree across processes); the LSH band
index and the cluster representatives are kept by the engine in the shared store (see ``engine``)
instead of datasketch's Redis storage, whose one-Redis-set-per-bucket layout costs several hundred
bytes per review and one round trip per band per query.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from functools import lru_cache

import numpy as np
from datasketch import MinHash

from trustscope.integrity.detectors import Signal, ramp
from trustscope.text import normalize_text, to_simplified

NUM_PERM = 48
BANDS = 12
ROWS = NUM_PERM // BANDS
SHINGLE = 2
MIN_SKELETON = 10  # shorter texts ("很好", "不错不错") are too generic to call copies
MATCH_JACCARD = 0.35  # estimated Jaccard with one of a cluster's representatives to join it
MAX_REPS = 8  # representatives kept per cluster (the first member, then members unlike the others)
NEW_REP_BELOW = 0.6  # a joining member less similar than this to every representative becomes one
SEED = 20240917

_DIGITS = re.compile(r"\d+")
_LATIN = re.compile(r"[a-z]+")


@lru_cache(maxsize=1)
def _template() -> MinHash:
    return MinHash(num_perm=NUM_PERM, seed=SEED)


def _keep(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in ("L", "N")  # letters and numbers; punctuation, symbols, emoji, marks go


def skeleton(text: str) -> str:
    """The text with its template slots folded (see module docstring)."""
    t = to_simplified(normalize_text(text)).lower()
    t = "".join(ch for ch in t if _keep(ch))
    t = _DIGITS.sub("0", t)
    return _LATIN.sub("a", t)


def shingles(skel: str) -> list[bytes]:
    if len(skel) < SHINGLE:
        return [skel.encode("utf-8")] if skel else []
    return list({skel[i:i + SHINGLE].encode("utf-8") for i in range(len(skel) - SHINGLE + 1)})


def signature(skel: str) -> np.ndarray:
    """MinHash values (uint32[NUM_PERM]) of the skeleton's shingles."""
    base = _template()
    m = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=base.permutations, scheme=base.scheme)
    m.update_batch(shingles(skel))
    return m.hashvalues.astype(np.uint32)


def band_keys(sig: np.ndarray, scope: str = "") -> list[bytes]:
    """One 7-byte key per LSH band (band number + 48-bit hash of the band's rows and ``scope``):
    texts sharing any band within the same scope (the engine scopes by platform) are candidates."""
    pre = scope.encode("utf-8")
    out = []
    for b in range(BANDS):
        chunk = sig[b * ROWS:(b + 1) * ROWS].tobytes()
        out.append(bytes([b]) + hashlib.blake2b(pre + chunk, digest_size=6).digest())
    return out


def cluster_id(review_id: str) -> str:
    """Short, stable id of the cluster a review founds (8 characters whatever the review id's length)."""
    return base64.urlsafe_b64encode(hashlib.blake2b(review_id.encode("utf-8"), digest_size=6).digest()).decode()


def compact(sig: np.ndarray) -> bytes:
    """1-byte-per-value (b-bit) form of a cluster representative: 48 bytes."""
    return (sig & 0xFF).astype(np.uint8).tobytes()


def jaccard_compact(sig: np.ndarray, rep: bytes) -> float:
    """Estimated Jaccard between a full signature and a stored 1-byte representative.

    With b-bit values two different minima collide with probability 1/256, so the raw match rate
    is corrected: J = (m - c) / (1 - c).
    """
    a = (sig & 0xFF).astype(np.uint8)
    b = np.frombuffer(rep, dtype=np.uint8)
    if len(b) != len(a):
        return 0.0
    m = float(np.mean(a == b))
    c = 1.0 / 256.0
    return max(0.0, (m - c) / (1.0 - c))


def split_reps(raw: bytes) -> list[bytes]:
    """Representatives stored back to back (NUM_PERM bytes each)."""
    return [raw[i:i + NUM_PERM] for i in range(0, len(raw) - NUM_PERM + 1, NUM_PERM)]


def score(same_platform: int) -> Signal:
    """Evidence from how many reviews of this platform share the review's text skeleton."""
    if same_platform < 2:
        return Signal("near_duplicate", 0.0)
    s = ramp(same_platform, 1, 5)
    return Signal("near_duplicate", s,
                  f"{same_platform} reviews of this platform share this text skeleton")
