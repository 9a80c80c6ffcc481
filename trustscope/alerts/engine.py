"""The alert engine: each post is placed in its stories, each grown story is tested against its
platform's baseline, and alerts are opened, updated, reopened and (when quiet) resolved.

One story is one alert (alert id = story id): growth updates the alert instead of sending another.
Two ways to open an alert: an **early warning** (phase ``early``) when a story's first post(s) carry
a high rumour-model probability and a new rumour-like story is improbable for that platform (its own
rate of such stories), severity capped for thin evidence; and a **burst** (phase ``burst``) when the
story's window count is improbable under the platform's baseline. An early warning that becomes a
burst is updated (and subscriptions told), never re-sent; one whose re-scored probability falls
below the rumour threshold before it bursts is resolved by the alerter. Stories that start with a
model-scored post are re-scored with their thread as they grow (``trustscope.alerts.rescore``).
Subscriptions are told (``AlertEvent.notify``) when an alert opens or reopens, when an early
warning turns into a burst, and when its level rises, at most once per ``cooldown_s``; other changes reach the SSE stream at most every
``update_interval_s`` per alert. Times: windows and baselines run on the posts' own times (event
time), so a replayed or delayed stream is judged as it happened; cooldowns and latency on the clock.

Every opening spends the platform's **page budget** (``trustscope.alerts.budget``): within
``budget_s`` of the platform's last page a story opens an alert only on strong evidence
(``budget.strong_evidence``); otherwise it is held as a non-paging watch on the story and re-judged with
each post, promoted to an alert the moment the evidence (or a free budget) arrives.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import redis

from trustscope.alerts.budget import (PAGES_HELD, PAGES_PROMOTED, BudgetDecision, PageBudget, evidence_kind,
                                      strong_evidence)
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import Alert, AlertEvent, AlertKind, Phase, Post, Story, Watch, ts_to_dt
from trustscope.alerts.rates import EARLY, RateModel, signal_kinds
from trustscope.alerts.rescore import StoryRescorer, due
from trustscope.alerts.severity import LEVEL_ORDER, level, severity
from trustscope.alerts.store import AlertStore, TransitionError, apply_transition
from trustscope.alerts.stories import StoryStore
from trustscope.observability import get_logger

log = get_logger("trustscope.alerts")


class AlertEngine:
    def __init__(self, client: redis.Redis, config: AlertConfig, clock: Callable[[], float] = time.time,
                 rescorer: StoryRescorer | None = None) -> None:
        self.cfg = config
        self.clock = clock
        self.stories = StoryStore(client, config)
        self.rates = RateModel(client, config)
        self.store = AlertStore(client, config)
        self.budget = PageBudget(client, config)
        self.threshold = -math.log10(config.alpha)
        self.early_threshold = -math.log10(config.early_alpha)
        self.rescorer = rescorer if rescorer is not None else StoryRescorer(None)

    def post_kinds(self, post: Post) -> list[AlertKind]:
        return signal_kinds(post, self.cfg)

    def rumour_threshold(self, story: Story) -> float:
        """A story the model scores is rumour-like from ``early_threshold`` (chosen on held-out data
        for precision), one the lexicon scores from ``rumour_threshold``; an early warning is retracted
        only below ``rumour_threshold`` (hysteresis: a wobble of the score does not flap the alert)."""
        return self.cfg.early_threshold if story.model_headline else self.cfg.rumour_threshold

    def story_kind(self, story: Story) -> AlertKind | None:
        if story.rumour_prob >= self.rumour_threshold(story) and self.rate_allows(story):
            return "rumour"
        if story.negative_share >= self.cfg.negative_share:
            return "negative"
        return None

    def rate_allows(self, story: Story) -> bool:
        """A model-scored story is a rumour alert (early or burst) only when a new rumour-like story
        was improbable for its platform when it became one: the platform's own rate of such stories,
        so a platform where the model often errs is not paged for each (docs/alerts.md)."""
        if not (story.model_headline and self.cfg.early_enabled):
            return True
        return story.early_surprise is not None and story.early_surprise >= self.early_threshold

    def process(self, posts: Sequence[Post]) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        now = self.clock()
        posts = [p for p in posts if now - p.created_at <= self.cfg.max_age_s]  # backfills: indexed, not alerted
        self.stories.begin_batch(posts)
        try:
            for post in posts:
                events.extend(self._place(post))
        finally:
            self.stories.end_batch()
        return events

    def _place(self, post: Post) -> list[AlertEvent]:
        """The post in its stories; each story tested, then the baselines taught."""
        events: list[AlertEvent] = []
        kinds = self.post_kinds(post)
        early_like = post.model_scored and post.rumour >= self.cfg.early_threshold
        for placement in self.stories.add(post, signal=bool(kinds) or early_like):
            story = self._rescored(placement.story)
            counted = self._first_early(story)
            event = self.consider(counted or story)
            for kind in kinds:  # the baseline learns after the test, so a burst is judged by the past
                self.rates.observe(story.platform, kind, post.created_at)
            if counted is not None:
                self.rates.observe(story.platform, EARLY, story.first_seen)
            if event is not None:
                events.append(event)
        return events

    def _rescored(self, story: Story) -> Story:
        if not self.rescorer.enabled or not due(story, self.cfg):
            return story
        prob = self.rescorer.score(self.stories.thread_posts(story.id))
        return story if prob is None else self.stories.set_rescore(story, prob)

    def _early_like(self, story: Story) -> bool:
        return story.model_headline and story.rumour_prob >= self.cfg.early_threshold

    def _first_early(self, story: Story) -> Story | None:
        """The first time the model finds a story rumour-like, it is judged against its platform's rate
        of such stories (the surprise is kept on the story) and counted in it after the test."""
        if not self.cfg.early_enabled or story.early_seen or not self._early_like(story):
            return None
        return self.stories.first_early(story, self.early_surprise(story))

    def early_surprise(self, story: Story) -> float:
        """-log10 P(a new rumour-like story on this platform in one window | its rate of them)."""
        base = self.rates.baseline(story.platform, EARLY, story.first_seen)
        return round(base.surprise(1, self.cfg.window_s), 3)

    def consider(self, story: Story) -> AlertEvent | None:
        kind = self.story_kind(story)
        # a story's first post: no alert can exist yet (alert id = story id), and one post is never a
        # burst, so only an early warning can open; this skips two Redis round trips for most posts
        if story.volume <= 1 and self.cfg.min_posts > 1 and not (
                kind == "rumour" and story.model_headline and self.cfg.early_enabled):
            return None
        existing = self.store.get(story.id)
        alertable = kind is not None  # rumour-like or negative now (an open alert keeps its kind below)
        kind = kind or (existing.kind if existing else None)
        if kind is None:
            return None
        # the burst is counted in the baseline's unit: the story's signal posts of this kind in the window
        # (not all its posts: posts without the signal that joined it are not what the baseline counts)
        k = story.window_signal(kind)
        # the story's own earlier posts in the window are the burst, not the baseline it is judged by
        base = self.rates.baseline(story.platform, kind, story.last_seen, exclude=max(0, k - 1))
        surprise = round(base.surprise(k, self.cfg.window_s), 3) if k else 0.0
        burst = (k >= self.cfg.min_posts and story.authors >= self.cfg.min_authors
                 and surprise >= self.threshold)
        now_ts = self.clock()
        now = datetime.fromtimestamp(now_ts, tz=timezone.utc)
        if existing is None:
            # rumour-like by the model, improbable for the platform (story_kind checked both): warn now
            early = not burst and kind == "rumour" and story.model_headline and self.cfg.early_enabled
            if early:
                surprise = story.early_surprise or 0.0
            if not burst and not early:
                return None
            phase: Phase = "burst" if burst else "early"
            sev = severity(story, kind, surprise, cap=None if burst else self.cfg.early_max_severity)
            evidence = strong_evidence(self.cfg, story, kind, burst, surprise,
                                       signal_posts=base.a - self.rates.prior(kind)[0])
            decision = self.budget.claim(story.platform, story.last_seen, story.id, strong=evidence is not None)
            if not decision.allowed:
                self._hold(story, kind, phase, sev, decision, now_ts)
                return None
            alert = Alert(id=story.id, story_id=story.id, platform=story.platform, kind=kind, phase=phase,
                          severity=sev,
                          level=level(sev), headline=story.headline, headline_id=story.headline_id,
                          terms=story.terms, volume=story.volume, reposts=story.reposts, authors=story.authors,
                          velocity_per_min=story.velocity_per_min, rumour_prob=story.rumour_prob,
                          negative_share=story.negative_share, sentiment_mean=story.sentiment_mean,
                          surprise=surprise, baseline_per_window=round(base.expected(self.cfg.window_s), 4),
                          first_seen=ts_to_dt(story.first_seen), last_seen=ts_to_dt(story.last_seen),
                          opened_at=now, updated_at=now, notified_at=now, notified_level=level(sev),
                          latency_s=round(now_ts - story.first_ingested, 3) if story.first_ingested else None,
                          history=[{"action": "open", "by": "alerter", "at": now.isoformat()}])
            if story.watch is not None:  # held by the budget until now: say so, and why it pages now
                note = evidence or "the platform's page budget is free again"
                alert.history.insert(0, {"action": "watch", "by": "alerter", "at": ts_to_dt(story.watch.held_at).isoformat(),
                                         "note": story.watch.reason})
                alert.history[-1]["note"] = f"promoted from watch: {note}"
                PAGES_PROMOTED.labels(evidence_kind(self.cfg, story, kind) if evidence else "budget").inc()
                log.info("alert.promoted", alert=alert.id, platform=alert.platform, kind=kind, phase=phase,
                         evidence=note, held_s=round(now_ts - story.watch.held_at, 1))
            event = AlertEvent(type="alert.opened", alert=alert, notify=True, at=now)
            self.store.save(alert, event)
            if story.watch is not None:
                self.stories.release(story.id)
            log.info("alert.opened", alert=alert.id, platform=alert.platform, kind=kind, phase=phase,
                     severity=sev, volume=story.volume, window=k, surprise=surprise)
            return event
        if (existing.phase == "early" and existing.status != "resolved" and not burst
                and story.rumour_prob < self.cfg.rumour_threshold):
            return self._retract(existing, story)
        if existing.status == "resolved" and not (
                burst and alertable
                and story.volume >= existing.volume + max(self.cfg.min_posts, existing.volume // 2)):
            # reopened only when it grows again (by half, at least min_posts, since resolved) as a story
            # that would alert now: an early warning retracted by re-scoring is not reopened by its burst
            # unless the story is rumour-like again (or negative)
            return None
        alert = existing
        reopened = None
        if alert.status == "resolved":
            reopened = apply_transition(alert, "reopen", "alerter", "the story grew again")
            self.budget.record(story.platform, story.last_seen, alert.id)  # a page: later ones see it
        turned = alert.phase == "early" and burst
        if burst:
            alert.phase = "burst"
        sev = severity(story, kind, surprise, cap=None if alert.phase == "burst" else self.cfg.early_max_severity)
        self._refresh(alert, story, kind, sev, surprise, base.expected(self.cfg.window_s))
        if turned and reopened is None:  # the early warning's story is now a burst: tell them, once
            alert.notified_at, alert.notified_level, alert.updated_at = now, alert.level, now
            event = AlertEvent(type="alert.updated", alert=alert, notify=True, at=now)
            log.info("alert.burst", alert=alert.id, level=alert.level, severity=sev)
        elif reopened is not None:
            alert.notified_at, alert.notified_level, alert.updated_at = now, alert.level, now
            event = AlertEvent(type="alert.reopened", alert=alert, notify=True, at=now)
            log.info("alert.reopened", alert=alert.id, platform=alert.platform, severity=sev)
        else:
            since_notice = now_ts - (alert.notified_at.timestamp() if alert.notified_at else 0)
            rises = LEVEL_ORDER[alert.level] > LEVEL_ORDER[alert.notified_level or "low"]
            if rises and since_notice >= self.cfg.cooldown_s:
                alert.notified_at, alert.notified_level, alert.updated_at = now, alert.level, now
                event = AlertEvent(type="alert.updated", alert=alert, notify=True, at=now)
                log.info("alert.escalated", alert=alert.id, level=alert.level, severity=sev)
            elif now_ts - alert.updated_at.timestamp() >= self.cfg.update_interval_s:
                alert.updated_at = now
                event = AlertEvent(type="alert.updated", alert=alert, notify=False, at=now)
            else:
                self.store.save(alert, None)
                return None
        self.store.save(alert, event)
        return event

    def _hold(self, story: Story, kind: AlertKind, phase: Phase, sev: float, decision: BudgetDecision,
              now_ts: float) -> None:
        """Keep the alert that did not page as a watch on its story (visible, re-judged per post)."""
        if story.watch is not None:
            return
        ago = (story.last_seen - decision.last_page_at) / 86_400 if decision.last_page_at is not None else 0.0
        reason = (f"page budget: {story.platform} was paged {ago:.1f} days before (alert {decision.last_alert}); "
                  f"one page per {self.cfg.budget_s / 86_400:g} days without strong evidence")
        watch = Watch(reason=reason, kind=kind, phase=phase, severity=sev, since=story.last_seen, held_at=now_ts,
                      blocked_by=decision.last_alert, last_page_at=decision.last_page_at)
        if self.stories.hold(story, watch):
            PAGES_HELD.labels(kind).inc()
            log.info("alert.held", story=story.id, platform=story.platform, kind=kind, phase=phase,
                     severity=sev, blocked_by=decision.last_alert, days_since_page=round(ago, 2))

    def watched(self, platform: str | None = None, limit: int = 100) -> list[Story]:
        """Stories held by the page budget (their ``watch`` says what they would have paged and why not)."""
        return self.stories.watched(platform, limit)

    def _refresh(self, alert: Alert, story: Story, kind: AlertKind, sev: float, surprise: float,
                 expected: float) -> None:
        alert.kind = kind
        alert.severity, alert.level = sev, level(sev)
        alert.volume, alert.reposts, alert.authors = story.volume, story.reposts, story.authors
        alert.velocity_per_min, alert.rumour_prob = story.velocity_per_min, story.rumour_prob
        alert.negative_share, alert.sentiment_mean = story.negative_share, story.sentiment_mean
        alert.terms = story.terms
        alert.surprise = max(alert.surprise, surprise) if alert.status != "resolved" else surprise
        alert.baseline_per_window = round(expected, 4)
        alert.last_seen = ts_to_dt(story.last_seen)

    def _retract(self, alert: Alert, story: Story) -> AlertEvent | None:
        """An early warning whose story, re-scored with its thread, is no longer rumour-like."""
        try:
            done = self.store.transition(alert.id, "resolve", "alerter",
                                         f"re-scored with its thread: P(rumour) {story.rumour_prob:.2f} "
                                         f"< {self.cfg.rumour_threshold}")
        except TransitionError:
            return None
        if done is None:
            return None
        log.info("alert.retracted", alert=alert.id, platform=alert.platform, rumour_prob=story.rumour_prob)
        return done[1]

    def sweep(self) -> list[AlertEvent]:
        """Resolve open/acknowledged alerts whose story has been quiet for ``resolve_after_s``."""
        events = []
        for alert_id in self.store.active_ids(older_than=self.clock() - self.cfg.resolve_after_s):
            try:
                done = self.store.transition(alert_id, "resolve", "alerter",
                                             f"quiet for {self.cfg.resolve_after_s} s")
            except TransitionError:
                continue  # resolved by someone in between
            if done is not None:
                events.append(done[1])
                log.info("alert.resolved", alert=alert_id, by="alerter")
        return events
