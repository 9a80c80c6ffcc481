"""Features of a rumour event: the text each text view reads, and the dense propagation, author and
doubt features computed from what has arrived so far.

Everything here is pure Python/numpy and shared by training and serving, so the shipped model sees
exactly the features it was trained on.
"""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np

from trustscope.rumour.events import MAX_COMMENT_TEXTS, Author, RumourEvent

_SPACE = re.compile(r"\s+")
# phrases in comments that question or deny a claim (CED reposts: "求证", "真的假的", "已辟谣" ...)
DOUBT_TERMS: tuple[str, ...] = (
    "辟谣", "谣言", "造谣", "传谣", "谣传", "假的", "假消息", "假新闻", "不实", "求证", "真的吗",
    "真的假的", "真假", "是真的么", "真的么", "靠谱吗", "别信", "不要信", "不信", "骗人", "澄清",
    "虚假", "求真相", "假新闻", "误传", "旧闻", "老新闻", "p的", "ps的", "谣", "辟謠", "謠言",
)
_DOUBT = re.compile("|".join(sorted(map(re.escape, set(DOUBT_TERMS)), key=len, reverse=True)))
_URL = re.compile(r"https?://|t\.cn/")
_MENTION = re.compile(r"@[^\s:：@]+")
BOILERPLATE: tuple[str, ...] = ("转发微博", "轉發微博", "repost")
_BOILERPLATE = BOILERPLATE


def normalize(text: str) -> str:
    """Lower case, whitespace runs to one space, @mentions to one token (names are noise)."""
    return _SPACE.sub(" ", _MENTION.sub("@", text.lower())).strip()


def char_ngrams(text: str, nmin: int, nmax: int) -> list[str]:
    """Character n-grams of the normalized text (the analyzer of every text view)."""
    t = normalize(text)
    n = len(t)
    out: list[str] = []
    for k in range(nmin, nmax + 1):
        out.extend(t[i:i + k] for i in range(n - k + 1))
    return out


_JIEBA = None


def _tokenizer():
    """jieba's tokenizer, built once per process (its prefix dictionary loads in about a second)."""
    global _JIEBA
    if _JIEBA is None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.initialize()
        _JIEBA = tok
    return _JIEBA


def word_tokens(text: str) -> list[str]:
    """jieba words of the normalized text and their adjacent pairs ("a b"): what the word view
    reads (model v4; words carry claim phrases that straddle the char n-grams' reach)."""
    words = [w for w in _tokenizer().lcut(normalize(text)) if w.strip()]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def author_key(author: Author | None) -> int | None:
    """An account's identity from its profile: a hash of its creation time (s) and gender. The CED profile has no
    user id, but the creation second nearly singles an account out (CED: 1,962 keys for 1,984
    accounts; 16 keys are shared by 2-3 accounts made in Weibo's launch week of August 2009); None
    when the profile or its creation time is missing."""
    if author is None or not author.created_at:
        return None
    # hashed, so a model's record table lists no creation times (64 bits: no collisions to speak of)
    digest = hashlib.blake2b(f"{int(author.created_at)}:{int(author.gender_male)}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def comments_text(event: RumourEvent) -> str:
    """The comment texts that arrived, in time order, bounded (see MAX_COMMENT_TEXTS)."""
    parts = []
    for r in event.reposts[:MAX_COMMENT_TEXTS]:
        t = r.text.strip()
        if t and t not in _BOILERPLATE:
            parts.append(t)
    return " | ".join(parts)


DENSE_NAMES: tuple[str, ...] = (
    "log_reposts", "log_velocity_per_h", "log_min_to_1", "log_min_to_10", "log_min_to_50",
    "frac_first_hour", "max_depth", "mean_depth", "frac_deep", "frac_root_children",
    "log_max_fanout", "distinct_user_ratio", "frac_doubt", "log_doubt", "frac_question",
    "frac_boilerplate", "log_mean_comment_len", "has_reposts",
    "has_author", "log_followers", "log_friends", "log_messages", "verified", "vtype_personal",
    "vtype_org", "description", "male", "log_account_age_days", "log_followers_per_friend",
    "log_post_len", "post_has_url", "post_exclaim", "post_question", "post_bracket", "post_mentions",
    "post_digits", "post_doubt",
)


AUTHOR_NAMES: tuple[str, ...] = DENSE_NAMES[DENSE_NAMES.index("has_author"):DENSE_NAMES.index("log_post_len")]


def _log_minutes(seconds: float) -> float:
    return math.log1p(max(0.0, seconds) / 60.0)


def _tree(event: RumourEvent) -> tuple[np.ndarray, np.ndarray]:
    """Depth of every repost (1: of the post itself) and fan-out (children) per repost.

    A parent that is not among the arrived reposts is taken as depth 1 (CED parents are mids of
    other reposts; an unknown one is most often the post or an uncrawled intermediate)."""
    n = len(event.reposts)
    depth = np.ones(n, dtype=np.int32)
    fanout = np.zeros(n, dtype=np.int32)
    index: dict[str, int] = {}
    for i, r in enumerate(event.reposts):
        p = index.get(r.parent) if r.parent else None
        if p is not None:
            depth[i] = min(depth[p] + 1, 1000)
            fanout[p] += 1
        if r.mid:
            index.setdefault(r.mid, i)
    return depth, fanout


def dense_features(event: RumourEvent) -> np.ndarray:
    """One row of DENSE_NAMES for the event as it stands (its horizon already applied)."""
    reposts = event.reposts
    n = len(reposts)
    t0 = event.time
    if event.horizon_hours is not None:
        window_h = max(event.horizon_hours, 1.0 / 60.0)
    else:
        window_h = max((reposts[-1].time - t0) / 3600.0 if n else 0.0, 1.0 / 60.0)
    times = np.fromiter((r.time - t0 for r in reposts), dtype=np.float64, count=n)

    def to_k(k: int) -> float:
        return _log_minutes(times[k - 1]) if n >= k else _log_minutes(window_h * 3600.0)

    if n:
        depth, fanout = _tree(event)
        texts = [r.text for r in reposts]
        doubt = sum(1 for t in texts if _DOUBT.search(t))
        question = sum(1 for t in texts if "?" in t or "？" in t or "吗" in t)
        boiler = sum(1 for t in texts if not t.strip() or t.strip() in _BOILERPLATE)
        mean_len = sum(len(t) for t in texts) / n
        users = len({r.uid for r in reposts if r.uid}) / n
        prop = [math.log1p(n), math.log1p(n / window_h), to_k(1), to_k(10), to_k(50),
                float((times <= 3600.0).mean()), math.log1p(float(depth.max())),
                float(depth.mean()), float((depth >= 2).mean()), float((depth == 1).mean()),
                math.log1p(float(fanout.max())), users, doubt / n, math.log1p(doubt),
                question / n, boiler / n, math.log1p(mean_len), 1.0]
    else:
        prop = [0.0, 0.0, to_k(1), to_k(10), to_k(50), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                0.0, 0.0, 0.0, 0.0]
    a = event.author
    if a is not None:
        age = (t0 - a.created_at) / 86400.0 if a.created_at else 0.0
        author = [1.0, math.log1p(a.followers), math.log1p(a.friends), math.log1p(a.messages),
                  float(a.verified), float(a.verified_type == 0), float(a.verified_type >= 1),
                  float(a.description), float(a.gender_male), math.log1p(max(0.0, age)),
                  math.log1p(a.followers) - math.log1p(a.friends)]
    else:
        author = [0.0] * 11
    text = event.text
    post = [math.log1p(len(text)), float(bool(_URL.search(text))), float(text.count("!") + text.count("！")),
            float(text.count("?") + text.count("？")), float("【" in text), float(len(_MENTION.findall(text))),
            float(sum(c.isdigit() for c in text)) / max(1, len(text)), float(bool(_DOUBT.search(text)))]
    row = np.asarray(prop + author + post, dtype=np.float64)
    assert row.shape[0] == len(DENSE_NAMES)
    return row
