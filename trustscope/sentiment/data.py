"""Locating and reading the shared training corpora (never copied into the repo).

Why a module of its own: training, the benchmark and the tests all need the same data paths and
the same deterministic splits, so the numbers they report are about the same held-out texts.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from trustscope.settings import REPO_DIR

REVIEWS_FILE = "sentiment_reviews.jsonl.gz"
WEIBO_FILE = "rumour_ced_train.jsonl.gz"

# the texts MLM pre-training can run on (``trustscope model train --pretrain-corpus``), and how the
# model card names them; "reviews" is task-adaptive pre-training on the review texts alone
PRETRAIN_CORPORA = {"all": "reviews + Weibo", "reviews": "review texts only"}

_URL_RE = re.compile(r"https?://\S+")
_WS_RE = re.compile(r"\s+")


def shared_data_dir() -> Path:
    """``$TS_SHARED_DATA`` or ``<repo>/../shared/data`` (CI puts shared/ beside the clone)."""
    env = os.environ.get("TS_SHARED_DATA")
    return Path(env) if env else REPO_DIR.parent / "shared" / "data"


def _read_jsonl_gz(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


@dataclass(frozen=True)
class Review:
    """One labelled review: ``label`` 1 = positive, 0 = negative."""

    id: str
    domain: str
    label: int
    text: str


def load_reviews(path: Path | None = None) -> list[Review]:
    """All labelled reviews, in file order."""
    path = path or shared_data_dir() / REVIEWS_FILE
    if not path.exists():
        raise FileNotFoundError(f"labelled reviews not found at {path} (set TS_SHARED_DATA)")
    out = []
    for d in _read_jsonl_gz(path):
        text = d.get("text")
        if isinstance(text, str) and text.strip():
            out.append(Review(str(d["id"]), str(d["domain"]), int(d["label"]), text.strip()))
    return out


def clean_for_pretraining(text: str) -> str:
    """Drop URLs and collapse whitespace; keeps @mentions and [emoji] codes, they are real Weibo text."""
    return _WS_RE.sub(" ", _URL_RE.sub(" ", text)).strip()


def load_weibo_texts(path: Path | None = None) -> list[str]:
    """Original posts and all reposts/comments of the Weibo corpus, labels ignored."""
    path = path or shared_data_dir() / WEIBO_FILE
    if not path.exists():
        raise FileNotFoundError(f"Weibo corpus not found at {path} (set TS_SHARED_DATA)")
    out = []
    for d in _read_jsonl_gz(path):
        out.append(d.get("text") or "")
        out.extend(r.get("text") or "" for r in d.get("reposts") or [])
    return out


def pretraining_texts(reviews: list[Review], weibo: list[str]) -> list[str]:
    """Deduplicated, cleaned unlabelled text; order fixed (first occurrence) so runs repeat."""
    seen: dict[str, None] = {}
    for t in [r.text for r in reviews] + weibo:
        c = clean_for_pretraining(t)
        if len(c) >= 2:
            seen.setdefault(c, None)
    return list(seen)


@dataclass
class Splits:
    """Train / validation (early stopping, calibration) / test (reported) partitions."""

    train: list[Review]
    val: list[Review]
    test: list[Review]


def random_split(reviews: list[Review], seed: int = 13, test_frac: float = 0.10,
                 val_frac: float = 0.05) -> Splits:
    """Random split with a fixed seed; the same seed gives the same test texts for every model."""
    idx = list(range(len(reviews)))
    random.Random(seed).shuffle(idx)
    n_test = int(len(idx) * test_frac)
    n_val = int(len(idx) * val_frac)
    pick = lambda ids: [reviews[i] for i in ids]
    return Splits(pick(idx[n_val + n_test:]), pick(idx[n_test:n_test + n_val]), pick(idx[:n_test]))


def domain_split(reviews: list[Review], held_out: str, seed: int = 13,
                 val_frac: float = 0.05) -> Splits:
    """Hold out one domain entirely: it is the test set; train/val come from the other domains."""
    rest = [r for r in reviews if r.domain != held_out]
    test = [r for r in reviews if r.domain == held_out]
    if not test:
        raise ValueError(f"no reviews in domain {held_out!r}")
    s = random_split(rest, seed=seed, test_frac=0.0, val_frac=val_frac)
    return Splits(s.train, s.val, test)
