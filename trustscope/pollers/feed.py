"""RSS and Atom entries to ``DocumentIn`` (feedparser does the format work).

Choices that matter downstream:
- the id at the source is the entry's guid/id, else its link: both are stable across polls, so the
  stable document id is too; an entry with neither is skipped (it could never be de-duplicated);
- the text is the richest body the entry has (content, else summary, else the title), HTML removed;
- an entry without a date is skipped rather than stamped with the fetch time, which would change
  at every poll and make the same entry look edited each time.
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime, timezone
from typing import Any

import feedparser

from trustscope.pollers.config import FeedSource
from trustscope.pollers.htmltext import html_to_text
from trustscope.pollers.items import Parsed, clip, validate_item
from trustscope.schemas import MAX_TEXT_CHARS


class FeedError(ValueError):
    """The response is not a feed at all (as opposed to a feed with some bad entries)."""


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed: time.struct_time | None = entry.get(key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    return None


def _entry_body(entry: Any) -> str:
    bodies = [c.get("value", "") for c in entry.get("content") or []]
    bodies.append(entry.get("summary", ""))
    for body in bodies:
        text = html_to_text(body)
        if text:
            return text
    return html_to_text(entry.get("title", ""))


def _http_url(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return value.strip()
    return None


def entry_to_dict(entry: Any, cfg: FeedSource) -> dict[str, Any] | str:
    """The ``DocumentIn`` fields of one entry, or the reason it cannot be one."""
    source_id = (entry.get("id") or entry.get("link") or "").strip()
    if not source_id:
        return "entry has neither an id/guid nor a link"
    created_at = _entry_time(entry)
    if created_at is None:
        return "entry has no published or updated date"
    text = _entry_body(entry)
    if not text:
        return "entry has no text (content, summary and title are empty)"
    data: dict[str, Any] = {
        "kind": cfg.kind.value,
        "source": cfg.source_name,
        "source_id": source_id[:300],
        "text": clip(text, MAX_TEXT_CHARS),
        "title": clip(html_to_text(entry.get("title", "")) or None, 1000),
        "url": _http_url(entry.get("link")),
        "platforms": list(cfg.platforms),
        "created_at": created_at,
    }
    author = clip(html_to_text(entry.get("author", "")), 200)
    if author:
        data["author"] = {"id": author, "name": author}
    return data


def parse_feed(content: bytes, cfg: FeedSource) -> Parsed:
    """Every usable entry of an RSS/Atom document; unusable ones are skipped with a logged reason."""
    feed = feedparser.parse(content)
    if feed.bozo and not feed.entries:
        raise FeedError(f"not a readable RSS/Atom feed: {feed.get('bozo_exception')!r}")
    parsed = Parsed()
    for i, entry in enumerate(feed.entries, 1):
        ref = entry.get("id") or entry.get("link") or f"entry #{i}"
        data = entry_to_dict(entry, cfg)
        if isinstance(data, str):
            parsed.skip(cfg.name, ref, data)
            continue
        item = validate_item(data)
        if isinstance(item, str):
            parsed.skip(cfg.name, ref, item)
        else:
            parsed.items.append(item)
    return parsed
