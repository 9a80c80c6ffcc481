"""One document model for every text TrustScope sees: reviews, news items and social posts.

``DocumentIn`` is what clients send; ``Document`` is what flows through the streams and lands in
Elasticsearch, with the fields that later stages add (sentiment, integrity, rumour). Keeping both in
one module means the API contract, the stream payload and the index mapping cannot drift apart
unnoticed (tests compare the model's fields with the mapping).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from trustscope.ids import content_hash, document_id
from trustscope.text import detect_language, normalize_text, required_text, to_simplified

# --- intake limits ---------------------------------------------------------------------------
# What the index mapping (infra/elasticsearch/docs-template.json) would refuse must be refused here,
# with a 422 naming the field: a 202 promises the document will be searchable. docs/api-errors.md
# lists these limits for clients.
MAX_TEXT_CHARS = 20_000
#: Raw text before normalisation: bounds the work normalisation does on a hostile body.
MAX_RAW_TEXT_CHARS = 100_000
MAX_TITLE_CHARS = 1000
MAX_SOURCE_ID_CHARS = 300  # keyword; at most 1,200 UTF-8 bytes, far below Lucene's 32,766-byte term
MAX_AUTHOR_ID_CHARS = 200
MAX_AUTHOR_NAME_CHARS = 200
MAX_PLATFORM_ID_CHARS = 64
MAX_PLATFORMS = 20
MAX_URL_CHARS = 2048
#: ``author_review_count`` is an Elasticsearch ``integer`` (signed 32 bit).
MAX_INT32 = 2**31 - 1
#: Reject timestamps this far in the future: a clock error upstream, not a review from tomorrow.
FUTURE_TOLERANCE_S = 24 * 3600
#: The earliest ``created_at`` (and author ``created_at``) accepted: nothing TrustScope watches is older.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: What ``parse_time`` can represent at all (query parameters such as ``since`` are held to this).
PARSE_MIN = datetime(1970, 1, 1, tzinfo=timezone.utc)
PARSE_MAX = datetime(2100, 1, 1, tzinfo=timezone.utc)
_MAX_TIME_STRING = 64

#: Identifiers are keywords that people compare, log and put in URLs: no control characters
#: (NUL, newline, tab, DEL, C1), no zero-width/bidi formatting characters, no line separators.
_ID_FORBIDDEN = re.compile(r"[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\u202a-\u202e"
                           r"\u2060-\u2064\u2066-\u206f\ufeff]")
_PLATFORM_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_LANGUAGE = r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$"


class Kind(str, Enum):
    review = "review"
    news = "news"
    social = "social"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _from_epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("epoch seconds must be a finite number")
    if abs(seconds) > 1e11:  # milliseconds, a common upstream format
        seconds /= 1000.0
    if not PARSE_MIN.timestamp() <= seconds < PARSE_MAX.timestamp():
        raise ValueError(f"time is outside {PARSE_MIN.year}..{PARSE_MAX.year - 1}")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _from_string(value: str) -> datetime:
    raw = value.strip()
    if not raw or len(raw) > _MAX_TIME_STRING:
        raise ValueError("expected an ISO-8601 time or epoch seconds")
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return _from_epoch(seconds)
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 time or epoch seconds: {raw[:40]!r}") from exc


def parse_time(value: Any) -> datetime:
    """ISO-8601 string, epoch seconds (int/float/str; milliseconds too) or datetime -> aware UTC.

    Raises only ``ValueError`` (never OverflowError/OSError), for anything outside
    ``PARSE_MIN``..``PARSE_MAX``, non-finite numbers, booleans and other types, so every caller can
    turn a bad time into a 4xx naming the field.
    """
    if isinstance(value, bool):
        raise ValueError("expected an ISO-8601 time or epoch seconds")
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int):
        if abs(value) > 10**15:
            raise ValueError(f"time is outside {PARSE_MIN.year}..{PARSE_MAX.year - 1}")
        dt = _from_epoch(float(value))
    elif isinstance(value, float):
        dt = _from_epoch(value)
    elif isinstance(value, str):
        dt = _from_string(value)
    else:
        raise ValueError("expected an ISO-8601 time or epoch seconds")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # naive times are taken as UTC, documented in the API
    try:
        dt = dt.astimezone(timezone.utc)
    except (OverflowError, ValueError, OSError) as exc:  # year 1 at +08:00, year 9999 at -10:00
        raise ValueError(f"time is outside {PARSE_MIN.year}..{PARSE_MAX.year - 1}") from exc
    if not PARSE_MIN <= dt < PARSE_MAX:
        raise ValueError(f"time is outside {PARSE_MIN.year}..{PARSE_MAX.year - 1}")
    return dt


def check_event_time(v: datetime, what: str) -> datetime:
    """An event time must lie in ``EARLIEST_TIME`` .. now + ``FUTURE_TOLERANCE_S``."""
    if v < EARLIEST_TIME:
        raise ValueError(f"{what} is before {EARLIEST_TIME.date().isoformat()}")
    if (v - utcnow()).total_seconds() > FUTURE_TOLERANCE_S:
        raise ValueError(f"{what} is more than a day in the future")
    return v


def check_identifier(v: str) -> str:
    """No control or invisible characters in an identifier (see ``_ID_FORBIDDEN``)."""
    if _ID_FORBIDDEN.search(v):
        raise ValueError("contains control or invisible characters (NUL, newline, tab, zero-width ...)")
    return v


class AuthorIn(BaseModel):
    """What the source tells us about the author; all optional except the id."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(..., min_length=1, max_length=MAX_AUTHOR_ID_CHARS,
                    description="the author's id at the source; no control or invisible characters")
    created_at: datetime | None = Field(None, description="account creation time (2000-01-01 .. now + 1 day)")
    review_count: int | None = Field(None, strict=True, ge=0, le=MAX_INT32,
                                     description="reviews the account has written (0 .. 2^31-1)")
    name: str | None = Field(None, max_length=MAX_AUTHOR_NAME_CHARS)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_identifier(v)

    @field_validator("created_at", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        return None if v in (None, "") else parse_time(v)

    @field_validator("created_at")
    @classmethod
    def _time_range(cls, v: datetime | None) -> datetime | None:
        return None if v is None else check_event_time(v, "created_at")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return (" ".join(normalize_text(v).split()) or None) if v else None


class DocumentIn(BaseModel):
    """A review, news item or post as a client submits it.

    Every limit here mirrors the index mapping, so what is accepted can be indexed.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind
    source: str = Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$",
                        description="where it came from, e.g. 'app-store', 'weibo', 'heimao'")
    source_id: str = Field(..., min_length=1, max_length=MAX_SOURCE_ID_CHARS,
                           description="the item's id at the source; no control or invisible characters")
    text: str = Field(..., min_length=1, max_length=MAX_RAW_TEXT_CHARS,
                      description=f"at most {MAX_TEXT_CHARS} characters after normalisation")
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    url: AnyHttpUrl | None = Field(None, description=f"http(s) URL, at most {MAX_URL_CHARS} characters")
    platforms: list[Annotated[str, Field(min_length=1, max_length=MAX_PLATFORM_ID_CHARS)]] = Field(
        default_factory=list, max_length=MAX_PLATFORMS,
        description="platform ids it concerns (lower-case slugs); linking adds mentioned ones")
    author: AuthorIn | None = None
    rating: int | None = Field(None, strict=True, ge=1, le=5,
                               description="1-5 stars, an integer (not a string or boolean); reviews only")
    language: str | None = Field(None, max_length=10, pattern=_LANGUAGE)
    created_at: datetime = Field(..., description="ISO-8601 or epoch seconds, 2000-01-01 .. now + 1 day")

    # threads: a repost or comment names its parent (and the thread's first post) by their ids at
    # the same source; the pipeline turns them into document ids, so a thread is one ES query
    parent_id: str | None = Field(None, min_length=1, max_length=MAX_SOURCE_ID_CHARS,
                                  description="parent's source_id")
    root_id: str | None = Field(None, min_length=1, max_length=MAX_SOURCE_ID_CHARS,
                                description="thread root's source_id")
    depth: int | None = Field(None, strict=True, ge=0, le=10_000,
                              description="0 = original post; default 1 with a parent")

    @field_validator("source_id", "parent_id", "root_id")
    @classmethod
    def _ids(cls, v: str | None) -> str | None:
        return None if v is None else check_identifier(v)

    @field_validator("created_at", mode="before")
    @classmethod
    def _created(cls, v: Any) -> Any:
        return parse_time(v)

    @field_validator("created_at")
    @classmethod
    def _created_range(cls, v: datetime) -> datetime:
        return check_event_time(v, "created_at")

    @field_validator("url", mode="before")
    @classmethod
    def _url_length(cls, v: Any) -> Any:
        if isinstance(v, str) and len(v) > MAX_URL_CHARS:
            raise ValueError(f"url has {len(v)} characters; the limit is {MAX_URL_CHARS}")
        return v

    @field_validator("url")
    @classmethod
    def _url_serialised_length(cls, v: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if v is not None and len(str(v)) > MAX_URL_CHARS * 3:  # percent-encoding grows it
            raise ValueError(f"url is longer than {MAX_URL_CHARS * 3} characters once encoded")
        return v

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = required_text(v)
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
        ids = {p.strip().lower() for p in v if p.strip()}
        for pid in ids:
            if not _PLATFORM_ID.match(pid):
                raise ValueError(f"platform ids are lower-case slugs (a-z, 0-9, '-', '_', '.'): {pid[:40]!r}")
        return sorted(ids)

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
