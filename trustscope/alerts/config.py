"""Alerting parameters in one record, built from the settings (``TS_ALERTS_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from trustscope.settings import Settings


@dataclass(frozen=True)
class AlertConfig:
    prefix: str = "ts"
    window_s: int = 600
    alpha: float = 1e-4
    min_posts: int = 4
    min_authors: int = 3
    rumour_threshold: float = 0.5
    negative_share: float = 0.6
    cooldown_s: int = 900
    update_interval_s: float = 5.0  # SSE 'alert.updated' at most this often per alert
    resolve_after_s: int = 6 * 3600
    story_ttl_s: int = 3 * 24 * 3600
    idle_ttl_s: int = 3600  # a one-post story is forgotten this soon
    plain_lsh_ttl_s: int = 1200  # LSH entries of posts that are neither rumour-like nor negative
    max_age_s: int = 7 * 24 * 3600  # posts older than this (event time) are not counted: backfills
    # baseline: Gamma(prior_posts, prior_exposure_s) prior on a platform's rate of signal posts,
    # discounted with this half-life so the baseline follows the platform
    prior_posts: float = 0.5
    prior_exposure_s: float = 43_200.0
    half_life_s: float = 7 * 86_400.0
    # stories: MinHash over character shingles, banded LSH
    num_perm: int = 64
    bands: int = 16
    shingle: int = 2
    min_lsh_chars: int = 8
    # an LSH candidate story is joined only when the post's estimated Jaccard similarity to the story's
    # headline is at least this (or the same claim in other words voted for it): half the bands' S-curve
    # midpoint (1/16)**(1/4) = 0.5; 99.9 % of CED's "comment//original" copies are above 0.23 (docs/alerts.md)
    join_min_similarity: float = 0.25
    events_maxlen: int = 50_000
    # early warning: a story whose first post the rumour model scores >= early_threshold opens an alert
    # at once when a new rumour-like story is improbable (< early_alpha per window) for its platform;
    # the rate of such stories has its own prior (0.5 stories in two weeks) so a fresh platform can be warned
    early_enabled: bool = True
    early_threshold: float = 0.74  # chosen on held-out data: bench/replay_rumours.py prepare (docs/alerts.md)
    early_alpha: float = 5e-4
    early_prior_stories: float = 0.5
    early_prior_exposure_s: float = 14 * 86_400.0
    early_max_severity: float = 49.0  # thin evidence: at most "medium" until the story is a burst
    # story re-scoring with its thread: at these volumes, then every rescore_every posts
    rescore_at: tuple[int, ...] = (2, 3, 5, 8, 13, 21, 34, 55, 89, 144)
    rescore_every: int = 100
    story_posts_kept: int = 300  # the posts a story keeps for re-scoring (its first ones)
    # page budget (trustscope.alerts.budget, docs/alerts.md "The page budget"): after a page, another
    # alert opens for the same platform within budget_s (event time) only on strong evidence; otherwise
    # the story is held as a non-paging watch and re-judged with each post. 0 switches the budget off.
    budget_s: int = 7 * 86_400
    budget_surprise: float = 7.0  # bursts: -log10(alpha / windows a week) = -log10(1e-4 / 1008) ~ 7.0,
    # plus log10 of the platform's signal posts (the stories tested in those windows): budget.weekly_bar
    watch_confirm_threshold: float = 0.999  # model rumours: thread re-score, precision >= 0.99 on calibration
    watch_confirm_posts: int = 5  # ... from a re-score at this volume or more

    @property
    def key(self) -> str:
        return f"{self.prefix}:al"

    # Redis keys that more than one alerts module uses (store, subscriptions, dispatcher) are named
    # here once, so a writer and its reader cannot drift apart.
    @property
    def events_key(self) -> str:
        return f"{self.key}:events"

    @property
    def subs_key(self) -> str:
        return f"{self.key}:subs"

    def sub_log_key(self, sub_id: str) -> str:
        return f"{self.key}:sublog:{sub_id}"

    def outbox_key(self, sub_id: str) -> str:
        return f"{self.key}:outbox:{sub_id}"

    def digest_key(self, sub_id: str) -> str:
        return f"{self.key}:digest:{sub_id}"

    @classmethod
    def from_settings(cls, s: Settings) -> AlertConfig:
        return cls(prefix=s.stream_prefix, window_s=s.alerts_window_s, alpha=s.alerts_alpha,
                   min_posts=s.alerts_min_posts, min_authors=s.alerts_min_authors,
                   rumour_threshold=s.alerts_rumour_threshold, cooldown_s=s.alerts_cooldown_s,
                   resolve_after_s=s.alerts_resolve_after_s, story_ttl_s=s.alerts_story_ttl_s,
                   events_maxlen=s.alerts_events_maxlen,
                   early_enabled=s.alerts_early_enabled,
                   early_threshold=s.alerts_early_threshold, early_alpha=s.alerts_early_alpha,
                   budget_s=s.alerts_budget_s, budget_surprise=s.alerts_budget_surprise,
                   watch_confirm_threshold=s.alerts_watch_confirm_threshold,
                   watch_confirm_posts=s.alerts_watch_confirm_posts)
