"""Synthetic review generator for tests, benchmarks and demos (hand-written pieces, no shared data):
combined they give thousands of distinct, realistic Chinese reviews about finance apps."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

PLATFORMS = ["alipay", "jd-finance", "duxiaoman", "lufax", "ppdai", "qifu", "zhaolian", "mashang"]
POSITIVE = ["到账很快，体验不错", "客服态度很好，问题当天就解决了", "利率透明，没有乱收费", "界面简洁，操作方便",
            "还款提醒很及时，很贴心", "审批速度快，额度也合适", "用了两年了一直很稳定", "提现秒到，很满意"]
NEGATIVE = ["客服一直联系不上，很失望", "提现困难，钱一直不到账", "催收电话打到家人那里，太过分了",
            "隐藏费用太多，利息算下来很高", "系统老是出错，还款失败还被算逾期", "额度莫名其妙被降了",
            "注销账户特别麻烦", "审核拖了一个星期都没有结果"]
OPENERS = ["", "说实话，", "第一次用，", "朋友推荐的，", "用了半年，", "总的来说，"]
SPACING_MINUTES = 37  # review i is created about i * 37 minutes after ``base``
MAX_SPAN_MINUTES = 10 * 365 * 24 * 60  # a large sample is packed closer, so it stays within ten years
DETAILS = ["", "借了三千块。", "这次借款一万。", "主要用来还信用卡。", "周末也能处理。", "晚上十点提交的。"]


def review(i: int, rng: random.Random, base: datetime | None = None, source: str = "test-app-store",
           spacing_minutes: float = SPACING_MINUTES) -> dict[str, Any]:
    positive = rng.random() < 0.6
    rating = rng.choice([4, 5]) if positive else rng.choice([1, 2])
    text = rng.choice(OPENERS) + rng.choice(POSITIVE if positive else NEGATIVE) + "，" + \
        rng.choice(DETAILS) + f"（订单{i:05d}）"
    base = base or datetime(2026, 1, 1, tzinfo=timezone.utc)
    return {
        "kind": "review",
        "source": source,
        "source_id": f"r-{i}",
        "platforms": [PLATFORMS[i % len(PLATFORMS)]],
        "author": {"id": f"user-{rng.randrange(10_000_000)}", "review_count": rng.randrange(1, 40),
                   "created_at": (base - timedelta(days=rng.randrange(30, 2000))).isoformat()},
        "rating": rating,
        "text": text,
        "created_at": (base + timedelta(minutes=spacing_minutes * i + rng.randrange(30))).isoformat(),
    }


def reviews(n: int, seed: int = 7, source: str = "test-app-store",
            base: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
    """``n`` reviews from ``base`` on, or, given ``end``, all created before ``end`` (the ingest API
    refuses reviews from the future, so live demos and benchmarks pass ``end=now``). More than
    ~142k reviews are spaced closer than ``SPACING_MINUTES`` so the whole sample spans at most ten
    years (a million at 37 minutes would reach back before 1970, which intake refuses)."""
    spacing = min(SPACING_MINUTES, MAX_SPAN_MINUTES / max(n, 1))
    if end is not None:
        base = end - timedelta(minutes=spacing * n + 30)
    rng = random.Random(seed)
    return [review(i, rng, base, source, spacing) for i in range(n)]
