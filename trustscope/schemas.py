"""One document model for every text TrustScope sees: reviews, news items and social posts.

``DocumentIn`` is what clients send; ``Document`` is what flows through the streams and lands in
Elasticsearch, with the fields that later stages add (sentiment, integrity, rumour). Keeping both in
one module means the API contract, the stream payload and the index mapping cannot drift apart
unnoticed (tests compare the model's fields with the mapping).
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from trustscope.ids import content_hash, document_id
from trustscope.text import detect_language, normalize_text, to_simplified

MAX_TEXT_CHARS = 20_000
#: Reject timestamps this far in the future: a clock error upstream, not a review from tomorrow.
FUTURE_TOLERANCE_S = 24 * 3600


class Kind(str, Enum):
    review = "review"
    news = "news"
    social = "social"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(value: Any) -> datetime:
    """ISO-8601 string, epoch seconds (int/float/str) or datetime -> aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, bool):
        raise ValueError("expected an ISO-8601 time or epoch seconds")
    elif isinstance(value, (int, float)):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds, a common upstream format
            seconds /= 1000.0
        dt = datetime.fromtimestamp(seconds, tz=timezone.utc)
    elif isinstance(value, str):
        raw = value.strip()
        try:
            return parse_time(float(raw))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not an ISO-8601 time or epoch seconds: {raw[:40]!r}") from exc
    else:
        raise ValueError("expected an ISO-8601 time or epoch seconds")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # naive times are taken as UTC, documented in the API
    return dt.astimezone(timezone.utc)


class AuthorIn(BaseModel):
    """What the source tells us about the author; all optional except the id."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=1, max_length=200)
    created_at: datetime | None = Field(None, description="account creation time")
    review_count: int | None = Field(None, ge=0, description="reviews the account has written")
    name: str | None = Field(None, max_length=200)

    @field_validator("created_at", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        return None if v in (None, "") else parse_time(v)


class DocumentIn(BaseModel):
    """A review, news item or social post as a client submits it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind
    source: str = Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$",
                        description="where it came from, e.g. 'app-store', 'weibo', 'heimao'")
    source_id: str = Field(..., min_length=1, max_length=300, description="the item's id at the source")
    text: str = Field(..., min_length=1)
    title: str | None = Field(None, max_length=1000)
    url: AnyHttpUrl | None = None
    platforms: list[str] = Field(default_factory=list, max_length=20,
                                 description="platform ids it concerns; linking adds mentioned ones")
    author: AuthorIn | None = None
    rating: int | None = Field(None, ge=1, le=5, description="1-5 stars; reviews only")
    language: str | None = Field(None, max_length=10)
    created_at: datetime
    # threads: a repost or comment names its parent (and the thread's first post) by their ids at
    # the same source; the pipeline turns them into document ids, so a thread is one ES query
    parent_id: str | None = Field(None, min_length=1, max_length=300, description="parent's source_id")
    root_id: str | None = Field(None, min_length=1, max_length=300, description="thread root's source_id")
    depth: int | None = Field(None, ge=0, le=10_000, description="0 = original post; default 1 with a parent")

    @field_validator("created_at", mode="before")
    @classmethod
    def _created(cls, v: Any) -> Any:
        return parse_time(v)

    @field_validator("created_at")
    @classmethod
    def _not_future(cls, v: datetime) -> datetime:
        if (v - utcnow()).total_seconds() > FUTURE_TOLERANCE_S:
            raise ValueError("created_at is more than a day in the future")
        return v

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = normalize_text(v)
        if not v:
            raise ValueError("text is empty after removing invisible characters")
        if len(v) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(v)} characters; the limit is {MAX_TEXT_CHARS}")
        return v

    @field_validator("title")
    @classmethod
    def _title(cls, v: str | None) -> str | None:
        return normalize_text(v) or None if v else None

    @field_validator("platforms")
    @classmethod
    def _platform_ids(cls, v: list[str]) -> list[str]:
        return sorted({p.strip().lower() for p in v if p.strip()})

    @model_validator(mode="after")
    def _rating_for_reviews(self) -> DocumentIn:
        if self.kind is Kind.review and self.rating is None:
            raise ValueError("rating (1-5) is required for reviews")
        if self.kind is not Kind.review and self.rating is not None:
            raise ValueError("rating is only allowed for reviews")
        if self.depth and self.parent_id is None:
            raise ValueError("depth > 0 needs a parent_id")
        if self.parent_id is not None and self.parent_id == self.source_id:
            raise ValueError("parent_id is the post itself")
        return self

    def to_document(self, platforms: list[str]) -> Document:
        """The pipeline document: id, normalised copies and intake metadata filled in."""
        lang = self.language or detect_language(self.text)
        author = self.author
        return Document(
            id=document_id(self.source, self.source_id),
            kind=self.kind,
            source=self.source.lower(),
            source_id=self.source_id,
            platforms=platforms,
            author_id=author.id if author else None,
            author_name=author.name if author else None,
            author_created_at=author.created_at if author else None,
            author_review_count=author.review_count if author else None,
            rating=self.rating,
            title=self.title,
            text=self.text,
            text_simplified=to_simplified(self.text),
            url=str(self.url) if self.url else None,
            language=lang,
            created_at=self.created_at,
            ingested_at=(now := utcnow()),
            stages={"ingest": now},
            **self._thread_ids(),
            content_hash=content_hash(self.kind.value, self.title, self.text, str(self.rating),
                                      ",".join(platforms), self.created_at.isoformat()),
        )

    def _thread_ids(self) -> dict[str, Any]:
        """Source ids of parent/root as document ids; a reply without a root hangs off its parent."""
        if self.parent_id is None:
            return {}
        root = self.root_id or self.parent_id
        return {"parent_id": document_id(self.source, self.parent_id),
                "root_id": document_id(self.source, root),
                "depth": self.depth if self.depth is not None else 1}


class SentimentField(BaseModel):
    label: Literal["positive", "negative", "neutral"]
    score: float
    prob_positive: float
    scored: bool = True
    model: str
    heads: dict[str, float] = Field(default_factory=dict,
                                    description="auxiliary heads on the sentiment model's pooled embedding")

    @model_serializer(mode="wrap")
    def _omit_empty_heads(self, handler):
        # the documents index mapping is strict: leave "heads" out unless a head produced numbers
        data = handler(self)
        if isinstance(data, dict) and not data.get("heads"):
            data.pop("heads", None)
        return data


class IntegrityField(BaseModel):
    verdict: Literal["verified", "suspicious", "fake"]
    fake_prob: float
    reasons: list[str] = Field(default_factory=list)
    reason_codes: list[str] = Field(default_factory=list)
    revision: int = 0
    engine: str
    updated_at: datetime


class RumourField(BaseModel):
    score: float
    terms: list[str] = Field(default_factory=list)
    engine: str


class Document(BaseModel):
    """A document as it flows through the streams and is stored in Elasticsearch."""

    model_config = ConfigDict(extra="ignore")

    id: str
    kind: Kind
    source: str
    source_id: str
    platforms: list[str] = Field(default_factory=list)
    author_id: str | None = None
    author_name: str | None = None
    author_created_at: datetime | None = None
    author_review_count: int | None = None
    rating: int | None = None
    title: str | None = None
    text: str
    text_simplified: str
    url: str | None = None
    language: str
    created_at: datetime
    ingested_at: datetime
    content_hash: str
    parent_id: str | None = None
    root_id: str | None = None
    depth: int | None = None
    sentiment: SentimentField | None = None
    integrity: IntegrityField | None = None
    rumour: RumourField | None = None
    stages: dict[str, datetime] = Field(default_factory=dict,
                                        description="when each pipeline stage finished with it")

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)
