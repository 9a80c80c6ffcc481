"""PLACEHOLDER rumour score: a weighted lexicon of the phrases that precede platform collapses.

This is the foundation's stand-in, named as such in the README: it marks texts that *talk about*
"跑路", "提现困难", "暴雷" and the like, which is what a PR or risk team must see first. It does not
yet model spread (who reposts, how fast); the rumour-detection issue replaces it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

ENGINE = "rumour-lexicon-placeholder-v1"

# weight ~ how strongly the phrase signals a run on or collapse of a platform
TERMS: dict[str, float] = {
    "跑路": 1.0, "暴雷": 1.0, "爆雷": 1.0, "提现困难": 1.0, "无法提现": 1.0, "提不了现": 1.0,
    "提现不到账": 0.9, "停止兑付": 1.0, "兑付困难": 0.9, "延期兑付": 0.8, "清盘": 0.8, "挤兑": 0.9,
    "立案": 0.7, "失联": 0.8, "倒闭": 0.8, "良性退出": 0.8, "被查": 0.6, "非法集资": 0.8,
    "诈骗": 0.5, "骗局": 0.5, "维权": 0.5, "报案": 0.5, "冻结": 0.4, "逾期": 0.3, "暴力催收": 0.4,
}
_PATTERN = re.compile("|".join(sorted(map(re.escape, TERMS), key=len, reverse=True)))


@dataclass(frozen=True, slots=True)
class RumourScore:
    score: float
    terms: list[str]
    engine: str = ENGINE


def score_text(text_simplified: str) -> RumourScore:
    """1 - exp(-sum of distinct term weights): one strong term ~0.63, two ~0.86."""
    terms = sorted(set(_PATTERN.findall(text_simplified)))
    total = sum(TERMS[t] for t in terms)
    return RumourScore(round(1.0 - math.exp(-total), 4), terms)
