"""Typed rumour events (an original post with the reposts/comments that arrived so far) parsed from
the CED-style JSON lines the batch CLI reads, and their truncation to a detection horizon.

Parsing is strict about what the model needs (``text`` and ``time`` of the post) and lenient about
the rest: a missing ``user`` or ``reposts`` is no propagation evidence, not an error, and a single
bad repost is dropped rather than failing the whole event (counted in ``dropped_reposts``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# bounds that keep one event's cost fixed whatever arrives: features over every repost are O(n)
# numpy work; only the first MAX_COMMENT_TEXTS comment texts (time order) go into the text view
MAX_REPOSTS = 200_000
MAX_COMMENT_TEXTS = 1_000
MAX_COMMENT_CHARS = 280
MAX_POST_CHARS = 5_000


class EventError(ValueError):
    """An input line that is not a usable event; the message names the field."""


@dataclass(frozen=True, slots=True)
class Author:
    """What the data says about the original poster (Weibo profile at crawl time)."""

    followers: float = 0.0
    friends: float = 0.0
    messages: float = 0.0
    verified: bool = False
    verified_type: int = -1
    description: bool = False
    gender_male: bool = False
    created_at: float | None = None


@dataclass(frozen=True, slots=True)
class Repost:
    mid: str
    parent: str
    uid: str
    text: str
    time: float


@dataclass(slots=True)
class RumourEvent:
    id: str | None
    text: str
    time: float
    author: Author | None = None
    reposts: list[Repost] = field(default_factory=list)  # sorted by time
    horizon_hours: float | None = None  # None: all that was given
    dropped_reposts: int = 0

    def truncated(self, horizon_hours: float | None) -> RumourEvent:
        """The event as seen ``horizon_hours`` after the post (0: the post alone; None: all).
        Reposts at exactly H hours count as arrived, except at 0, which is the post alone."""
        if horizon_hours is None:
            return self
        if horizon_hours < 0 or not math.isfinite(horizon_hours):
            raise ValueError("horizon_hours must be a finite number >= 0")
        if horizon_hours == 0:  # the post alone, even with reposts stamped at the post's own second
            return RumourEvent(self.id, self.text, self.time, self.author, [], 0.0, self.dropped_reposts)
        limit = self.time + horizon_hours * 3600.0
        # reposts are time-sorted: a binary search keeps a 100k-repost event cheap
        lo, hi = 0, len(self.reposts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.reposts[mid].time <= limit:
                lo = mid + 1
            else:
                hi = mid
        return RumourEvent(self.id, self.text, self.time, self.author, self.reposts[:lo],
                           horizon_hours, self.dropped_reposts)


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise EventError(f"{name}: expected a number")
    try:
        out = float(value)
    except ValueError as exc:
        raise EventError(f"{name}: expected a number") from exc
    if not math.isfinite(out):
        raise EventError(f"{name}: expected a finite number")
    return out


def _soft_num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return out if math.isfinite(out) and out > 0 else 0.0


def parse_author(user: Any) -> Author | None:
    """The profile dict, or None (CED has the string "empty" for unknown users)."""
    if not isinstance(user, dict):
        return None
    try:
        vtype = int(user.get("verified_type", -1))
    except (TypeError, ValueError):
        vtype = -1
    created = user.get("time")
    created_at = _soft_num(created) or None
    return Author(followers=_soft_num(user.get("followers")), friends=_soft_num(user.get("friends")),
                  messages=_soft_num(user.get("messages")), verified=bool(user.get("verified")),
                  verified_type=vtype, description=bool(user.get("description")),
                  gender_male=user.get("gender") == "m", created_at=created_at)


def parse_event(obj: Any) -> RumourEvent:
    """One input object -> event; raises EventError naming the bad field."""
    if not isinstance(obj, dict):
        raise EventError("line: expected a JSON object")
    raw_id = obj.get("id")
    event_id = None if raw_id is None else str(raw_id)
    text = obj.get("text")
    if not isinstance(text, str):
        raise EventError("text: expected a string")
    if "time" not in obj:
        raise EventError("time: missing")
    t0 = _num(obj["time"], "time")
    raw_reposts = obj.get("reposts") or []
    if not isinstance(raw_reposts, list):
        raise EventError("reposts: expected a list")
    reposts: list[Repost] = []
    dropped = 0
    for item in raw_reposts[:MAX_REPOSTS]:
        if not isinstance(item, dict):
            dropped += 1
            continue
        try:
            t = float(item.get("time"))
        except (TypeError, ValueError):
            dropped += 1
            continue
        if not math.isfinite(t):
            dropped += 1
            continue
        rtext = item.get("text")
        reposts.append(Repost(mid=str(item.get("mid") or ""), parent=str(item.get("parent") or ""),
                              uid=str(item.get("uid") or ""),
                              text=rtext[:MAX_COMMENT_CHARS] if isinstance(rtext, str) else "",
                              time=max(t, t0)))  # a clock-skewed repost counts as immediate
    dropped += max(0, len(raw_reposts) - MAX_REPOSTS)
    reposts.sort(key=lambda r: r.time)
    return RumourEvent(event_id, text[:MAX_POST_CHARS], t0, parse_author(obj.get("user")), reposts,
                       None, dropped)
