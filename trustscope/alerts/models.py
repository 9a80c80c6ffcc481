"""Typed records of the alerting domain: a post as the alerter sees it, a story, an alert, an event."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from trustscope.schemas import Document

AlertStatus = Literal["open", "acknowledged", "resolved"]
AlertKind = Literal["rumour", "negative"]
EventType = Literal["alert.opened", "alert.updated", "alert.acknowledged", "alert.resolved", "alert.reopened"]
Level = Literal["low", "medium", "high", "critical"]
Phase = Literal["early", "burst"]
LEXICON_ENGINE = "rumour-lexicon-placeholder-v1"  # trustscope.rumour.lexicon.ENGINE (not imported: no model load)


def ts_to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class Post(BaseModel):
    """The fields of a pipeline document that stories and alerts use."""

    id: str
    platforms: list[str]
    author_id: str
    text: str
    created_at: float  # event time, epoch seconds
    root_id: str | None = None
    parent_id: str | None = None
    rumour: float = 0.0
    rumour_terms: list[str] = Field(default_factory=list)
    rumour_engine: str | None = None  # who set ``rumour``: the trained model, or the placeholder lexicon
    negative: bool = False
    prob_positive: float | None = None
    ingested_at: float | None = None

    @classmethod
    def from_document(cls, doc: Document) -> Post:
        sent = doc.sentiment if doc.sentiment and doc.sentiment.scored else None
        return cls(id=doc.id, platforms=list(doc.platforms), author_id=doc.author_id or f"anonymous:{doc.id}",
                   text=(doc.text_simplified or doc.text), created_at=doc.created_at.timestamp(),
                   root_id=doc.root_id, parent_id=doc.parent_id,
                   rumour=float(doc.rumour.score) if doc.rumour else 0.0,
                   rumour_terms=list(doc.rumour.terms) if doc.rumour else [],
                   rumour_engine=doc.rumour.engine if doc.rumour else None,
                   negative=bool(sent and sent.label == "negative"),
                   prob_positive=sent.prob_positive if sent else None,
                   ingested_at=doc.ingested_at.timestamp())

    @property
    def model_scored(self) -> bool:
        """``rumour`` is the trained model's P(rumour) (social posts), not the lexicon's phrase score."""
        return bool(self.rumour_engine) and self.rumour_engine != LEXICON_ENGINE


class Watch(BaseModel):
    """An alert the page budget held: what it would have been, and why it did not page.

    Kept on the story (``Story.watch``) and in the watch index until the story is promoted to an
    alert (strong evidence, or the platform's budget frees) or expires with its story."""

    reason: str
    kind: AlertKind
    phase: Phase
    severity: float
    since: float  # event time of the post it was first held at
    held_at: float  # clock time it was first held
    blocked_by: str | None = None  # the alert id of the platform's page that spent the budget
    last_page_at: float | None = None  # that page's event time


class Story(BaseModel):
    """One claim spreading about one platform: near-duplicate posts plus their threads."""

    id: str
    platform: str
    headline_id: str
    headline: str
    first_seen: float
    last_seen: float
    first_ingested: float | None = None
    volume: int = 0
    reposts: int = 0
    authors: int = 0
    window_posts: int = 0  # posts in the last burst window (event time)
    window_rumour: int = 0  # of which rumour-like posts (``rates.signal_kinds``: what the rumour baseline counts)
    window_negative: int = 0  # of which negative posts (what the negative baseline counts)
    velocity_per_min: float = 0.0
    rumour_max: float = 0.0  # the highest rumour score of any post, whoever scored it
    lexicon_max: float | None = None  # the highest score of its lexicon-scored posts (None: an older story)
    rumour_mean: float = 0.0
    negative_share: float = 0.0
    sentiment_mean: float | None = None  # mean prob_positive of scored posts
    terms: list[str] = Field(default_factory=list)
    model_headline: bool = False  # the first post was scored by the rumour model (a social post)
    head_rumour: float = 0.0  # the first post's own rumour score
    rumour_story: float | None = None  # the model's P(rumour) of the story with its thread so far
    rescored_volume: int = 0  # the volume at which ``rumour_story`` was computed
    early_seen: bool = False  # already counted in its platform's rate of new rumour-like stories
    early_surprise: float | None = None  # -log10 P(a new rumour-like story) when it first became one
    watch: Watch | None = None  # held by the page budget instead of paging (None: not held, or promoted)

    def window_signal(self, kind: AlertKind) -> int:
        """The story's posts in the burst window that carry ``kind``'s signal: the count its burst test
        compares with the platform's baseline of that kind, which counts exactly those posts."""
        return self.window_rumour if kind == "rumour" else self.window_negative

    @property
    def rumour_prob(self) -> float:
        """The story's rumour probability: for a story that starts with a model-scored post, the
        model's score of the story as it stands (headline + the posts that arrived; the first post's
        own score until the second arrives); otherwise the highest lexicon score among its posts (a
        model-scored post that joins a review story by near-duplicate text does not lend it the model's
        score: judged by the lexicon's 0.5 instead of the model's threshold and rate, it would page)."""
        if self.model_headline:
            return self.rumour_story if self.rumour_story is not None else self.head_rumour
        return self.lexicon_max if self.lexicon_max is not None else self.rumour_max


class Alert(BaseModel):
    """One alert per story; updated as the story grows, never duplicated."""

    id: str
    version: int = Field(0, description="incremented at every write; the ES copy is versioned by it")
    story_id: str
    platform: str
    kind: AlertKind
    phase: Phase = Field("burst", description="early: opened on the rumour model alone (thin evidence, "
                         "severity capped); burst: the story is a burst against its platform's baseline")
    status: AlertStatus = "open"
    severity: float
    level: Level
    headline: str
    headline_id: str
    terms: list[str] = Field(default_factory=list)
    volume: int
    reposts: int
    authors: int
    velocity_per_min: float
    rumour_prob: float
    negative_share: float
    sentiment_mean: float | None = None
    surprise: float = Field(..., description="-log10 P(window count >= observed | baseline)")
    baseline_per_window: float
    first_seen: datetime
    last_seen: datetime
    opened_at: datetime
    updated_at: datetime
    notified_at: datetime | None = None
    notified_level: Level | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    reopened: int = 0
    latency_s: float | None = Field(None, description="first post ingested -> alert opened, wall seconds")
    history: list[dict[str, Any]] = Field(default_factory=list, description="lifecycle changes: who, when")


class AlertEvent(BaseModel):
    """What the SSE stream and the subscriptions receive."""

    type: EventType
    alert: Alert
    notify: bool = Field(False, description="subscriptions are sent this event (opened, reopened, level up)")
    at: datetime
