"""Shared by the alert tests: an engine on the test's prefix and a wave of posts that opens an alert."""

from __future__ import annotations

import time

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.engine import AlertEngine
from trustscope.alerts.models import Alert, Post

TEXTS = ["听说{}已经跑路了，提现困难，大家赶紧把钱取出来！！", "转：听说{}已经跑路了提现困难，大家赶紧把钱取出来",
         "听说{}已经跑路了，提现困难，大家赶紧把钱取出来吧", "【扩散】听说{}已经跑路了，提现困难，大家赶紧把钱取出来"]


def engine_for(client, settings) -> AlertEngine:
    return AlertEngine(client, AlertConfig.from_settings(settings))


def open_alert(engine: AlertEngine, platform: str, name: str, tag: str, n: int = 6) -> Alert:
    """Post ``n`` near-duplicate rumour posts about ``platform`` from n authors; return the alert."""
    now = time.time()
    alert = None
    for i in range(n):
        post = Post(id=f"{tag}{i}", platforms=[platform], author_id=f"{tag}-u{i}",
                    text=TEXTS[i % len(TEXTS)].format(name), created_at=now - 60 + 5 * i, ingested_at=now,
                    rumour=0.9, rumour_terms=["跑路", "提现困难"], negative=True, prob_positive=0.05)
        for event in engine.process([post]):
            alert = event.alert
    assert alert is not None, "the wave did not open an alert"
    return alert
