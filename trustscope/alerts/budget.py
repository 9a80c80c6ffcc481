"""Each platform's page budget: at most one page per platform per ``budget_s`` on ordinary evidence.

Why: every path that opens an alert is calibrated per story (the early path: the rumour model's
first-post precision and the platform's rate of rumour-like stories) or per window (the burst path:
alpha per ten minutes). Those bound how often a platform is paged *on average*; a platform whose
ordinary traffic happens to fool them twice in a few days is still paged twice (measured: one
platform of 38 at 2 pages in a simulated week, another at 3). The budget makes the bound hold by
construction: once a platform has been paged, another alert opens for it within ``budget_s`` (event
time) only on **strong evidence** (``AlertEngine.strong_evidence``: for a model-judged rumour, the
story re-scored with its thread at a precision-0.99 threshold; for any other burst, a surprise at
the weekly rather than the per-window bar). Otherwise the story is held as a non-paging **watch**
(``StoryStore.hold``) and re-judged with each post, so it is promoted the moment evidence arrives.

State: ``{p}:al:budget:{platform}`` hash ``at`` (event time of the platform's latest page), ``alert``
(its id), ``pages`` (a running count), ``held`` (stories held since); expires ``2 * budget_s`` after
the last page. The check and the claim are one Lua script, so two alerters cannot both spend it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import redis
from prometheus_client import Counter

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import AlertKind, Story

PAGES_HELD = Counter("trustscope_alert_pages_held_total",
                     "Alerts the per-platform page budget held as a watch instead of paging", ["kind"])
PAGES_PROMOTED = Counter("trustscope_alert_watch_promoted_total",
                         "Held (watch) stories promoted to an alert on strong evidence", ["evidence"])

_CLAIM = """
local last = tonumber(redis.call('HGET', KEYS[1], 'at') or '')
local at = tonumber(ARGV[1])
local prev = redis.call('HGET', KEYS[1], 'alert') or ''
if last ~= nil and ARGV[3] == '0' and at - last < tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[1], 'held', 1)
  return {0, tostring(last), prev}
end
if last == nil or at > last then redis.call('HSET', KEYS[1], 'at', ARGV[1], 'alert', ARGV[4]) end
redis.call('HINCRBY', KEYS[1], 'pages', 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
if last == nil then return {1, '', ''} end
return {1, tostring(last), prev}
"""


def weekly_bar(cfg: AlertConfig, signal_posts: float) -> float:
    """The burst surprise a second page within the budget window needs: the per-window bar spread over
    a week's windows (``budget_surprise``) and over the stories tested in them, at most one per signal
    post of the platform (``signal_posts``: its discounted count, about a week's)."""
    return cfg.budget_surprise + math.log10(max(1.0, signal_posts))


EvidenceKind = Literal["thread", "burst"]


def evidence_kind(cfg: AlertConfig, story: Story, kind: AlertKind) -> EvidenceKind:
    """Which evidence can let ``story`` page inside the budget window: the thread re-score for a
    rumour the model judged (early warnings on), a burst at the weekly bar for anything else."""
    return "thread" if kind == "rumour" and story.model_headline and cfg.early_enabled else "burst"


def strong_evidence(cfg: AlertConfig, story: Story, kind: AlertKind, burst: bool, surprise: float,
                    signal_posts: float = 0.0) -> str | None:
    """What lets a story page although its platform was paged within ``budget_s`` (None: nothing).

    A rumour the model judged (a model-scored story, early warnings on): only the model's score of the
    story with its thread, ``watch_confirm_threshold`` or more from a re-score at ``watch_confirm_posts``
    posts or more (the first-post threshold was chosen for precision 0.95, this one for 0.99). Its
    burst is no evidence here: ordinary social stories spread as fast as rumours (docs/alerts.md). Any
    other alert (a lexicon-scored rumour burst, a negative burst): a burst surprise at the weekly bar
    (``weekly_bar``) instead of the per-window one."""
    if evidence_kind(cfg, story, kind) == "thread":
        if (story.rumour_story is not None and story.rescored_volume >= cfg.watch_confirm_posts
                and story.rumour_story >= cfg.watch_confirm_threshold):
            return (f"re-scored with its thread at {story.rescored_volume} posts: P(rumour) "
                    f"{story.rumour_story:.4f} >= {cfg.watch_confirm_threshold}")
        return None
    bar = weekly_bar(cfg, signal_posts)
    if burst and surprise >= bar:
        return f"burst surprise {surprise:.1f} >= {bar:.1f} (weekly bar)"
    return None


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    allowed: bool
    last_page_at: float | None  # event time of the platform's previous page, if any
    last_alert: str | None  # that page's alert id


class PageBudget:
    def __init__(self, client: redis.Redis, config: AlertConfig) -> None:
        self.client = client
        self.cfg = config
        self._claim = client.register_script(_CLAIM)

    @property
    def enabled(self) -> bool:
        return self.cfg.budget_s > 0

    def key(self, platform: str) -> str:
        return f"{self.cfg.key}:budget:{platform}"

    def claim(self, platform: str, at: float, alert_id: str, strong: bool) -> BudgetDecision:
        """Spend the platform's budget for a page at event time ``at``: allowed when the platform has
        had no page in the ``budget_s`` before ``at``, or when ``strong``; a refusal is counted."""
        if not self.enabled:
            return BudgetDecision(True, None, None)
        ok, last, prev = self._claim(keys=[self.key(platform)],
                                     args=[f"{at:.3f}", self.cfg.budget_s, "1" if strong else "0", alert_id,
                                           int(self.cfg.budget_s * 2)])
        last_s, prev_s = _text(last), _text(prev)
        return BudgetDecision(bool(int(ok)), float(last_s) if last_s else None, prev_s or None)

    def record(self, platform: str, at: float, alert_id: str) -> None:
        """Count a page that is not gated by the budget (a reopened alert) so later ones see it."""
        if self.enabled:
            self.claim(platform, at, alert_id, strong=True)

    def last_page(self, platform: str) -> tuple[float, str] | None:
        raw = self.client.hmget(self.key(platform), ["at", "alert"])
        if raw[0] is None:
            return None
        return float(raw[0]), _text(raw[1] or "")


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v
