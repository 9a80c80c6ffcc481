"""What goes into and comes out of the integrity engine (the contract with the streaming service)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

VERDICTS = ("verified", "suspicious", "fake")


class ReviewInputError(ValueError):
    """A review that cannot be judged (missing id, rating out of range, unparseable time...)."""


def parse_time(value: Any, name: str = "created_at") -> float:
    """Epoch seconds from epoch seconds (int/float/numeric str) or ISO-8601 (naive = UTC)."""
    if isinstance(value, bool) or value is None:
        raise ReviewInputError(f"{name}: expected ISO-8601 or epoch seconds, got {value!r}")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            out = float(text)
        except ValueError:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError as exc:
                raise ReviewInputError(f"{name}: not ISO-8601 or epoch seconds: {value!r}") from exc
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            out = dt.timestamp()
    else:
        raise ReviewInputError(f"{name}: expected ISO-8601 or epoch seconds, got {type(value).__name__}")
    if not math.isfinite(out):
        raise ReviewInputError(f"{name}: not a finite time: {value!r}")
    return out


@dataclass(slots=True)
class ReviewEvent:
    """One review as the engine sees it. ``prob_positive`` comes from the sentiment stage if known,
    ``paid_prob`` from the sentiment model's paid-review head (``sentiment.heads["paid_review"]``)."""

    id: str
    platform: str
    author_id: str
    rating: int | None
    text: str
    created_at: float
    author_created_at: float | None = None
    author_review_count: int | None = None
    prob_positive: float | None = None
    paid_prob: float | None = None

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise ReviewInputError("id: a non-empty string is required")
        if not self.platform or not isinstance(self.platform, str):
            raise ReviewInputError("platform: a non-empty string is required")
        if not isinstance(self.author_id, str) or not self.author_id:
            raise ReviewInputError("author_id: a non-empty string is required")
        if self.rating is not None and (
                isinstance(self.rating, bool) or not isinstance(self.rating, int) or not 1 <= self.rating <= 5):
            raise ReviewInputError(f"rating: an integer 1-5 or null is required, got {self.rating!r}")
        if not isinstance(self.text, str):
            raise ReviewInputError("text: a string is required")
        if self.prob_positive is not None and not 0.0 <= float(self.prob_positive) <= 1.0:
            raise ReviewInputError(f"prob_positive: must be within [0, 1], got {self.prob_positive!r}")
        if self.paid_prob is not None and not 0.0 <= float(self.paid_prob) <= 1.0:
            raise ReviewInputError(f"paid_prob: must be within [0, 1], got {self.paid_prob!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReviewEvent:
        """Build from a JSON object (the CLI's input line, or a stream message)."""
        if not isinstance(d, dict):
            raise ReviewInputError("expected a JSON object")
        missing = [k for k in ("id", "platform", "author_id", "text", "created_at") if d.get(k) is None]
        if missing:
            raise ReviewInputError(f"missing field(s): {', '.join(missing)}")
        rating = d.get("rating")
        if isinstance(rating, float) and rating.is_integer():
            rating = int(rating)
        arc = d.get("author_review_count")
        aca = d.get("author_created_at")
        pp = d.get("prob_positive")
        paid = d.get("paid_prob")
        return cls(
            id=str(d["id"]),
            platform=str(d["platform"]),
            author_id=str(d["author_id"]),
            rating=rating,
            text=d["text"],
            created_at=parse_time(d["created_at"]),
            author_created_at=None if aca is None else parse_time(aca, "author_created_at"),
            author_review_count=None if arc is None else int(arc),
            prob_positive=None if pp is None else float(pp),
            paid_prob=None if paid is None else float(paid),
        )


@dataclass(slots=True)
class VerdictUpdate:
    """The verdict on one review; ``revision`` is 0 first and +1 each time the verdict changes."""

    id: str
    verdict: str
    fake_prob: float
    reasons: list[str] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
