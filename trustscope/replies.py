"""A platform's public replies to reviews about it (like an app store's developer response).

Replies are the platform speaking, not the crowd, so they are not documents: they never enter the
pipeline, never count towards a score and are shown beside the review they answer. One reply per
review; a new reply replaces the old (``edited_at`` says so). Kept in Redis:
``{p}:replies:{platform_id}`` is a hash of review document id -> JSON :class:`Reply`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import orjson
import redis
from pydantic import BaseModel, Field, field_validator

from trustscope.text import required_text

MAX_REPLY_CHARS = 2000


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)

    @field_validator("text")
    @classmethod
    def _clean(cls, v: str) -> str:
        return required_text(v)


class Reply(BaseModel):
    document_id: str
    platform: str
    text: str
    created_at: datetime
    edited_at: datetime | None = None
    key_id: str = Field("", description="the platform key that wrote it (for the audit trail)")


class ReplyStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, platform_id: str) -> str:
        return f"{self.prefix}:replies:{platform_id}"

    def put(self, platform_id: str, document_id: str, reply: ReplyIn, key_id: str) -> Reply:
        now = datetime.now(timezone.utc)
        old = self.get(platform_id, document_id)
        out = Reply(document_id=document_id, platform=platform_id, text=reply.text,
                    created_at=old.created_at if old else now, edited_at=now if old else None, key_id=key_id)
        self.client.hset(self._key(platform_id), document_id, out.model_dump_json())
        return out

    def get(self, platform_id: str, document_id: str) -> Reply | None:
        raw = self.client.hget(self._key(platform_id), document_id)
        return Reply(**orjson.loads(raw)) if raw else None

    def for_documents(self, platform_id: str, document_ids: Iterable[str]) -> dict[str, Reply]:
        """Replies to the given reviews (one HMGET), keyed by document id; reviews without one are absent."""
        ids = list(document_ids)
        if not ids:
            return {}
        raws = self.client.hmget(self._key(platform_id), ids)
        return {i: Reply(**orjson.loads(r)) for i, r in zip(ids, raws, strict=True) if r}

    def delete(self, platform_id: str, document_id: str) -> bool:
        return bool(self.client.hdel(self._key(platform_id), document_id))
