"""API keys stored in Redis: created, listed, rotated and revoked by admins, each with a label and
an expiry, kept only as a SHA-256 digest.

Layout (``{p}`` is the stream prefix):

- ``{p}:keys:rec:{id}``  JSON record (:class:`KeyRecord`), never the key itself
- ``{p}:keys:h:{hex}``   digest -> id; deleted on revoke/rotate, so a lookup is two GETs
- ``{p}:keys:ids``       set of ids, for listing

A key looks like ``tsk_<id>_<43 url-safe chars>`` (256 random bits): the id part lets an operator
tell keys apart in a support ticket without the secret. Rotation issues a new secret for the same id
(same roles, label, platforms) and retires the old one at once; revocation keeps the record (who,
when) for the audit trail.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import orjson
import redis
from pydantic import BaseModel, Field, field_validator

from trustscope.auth import PLATFORM, Principal, digest_of, parse_roles


def _now() -> datetime:
    return datetime.now(timezone.utc)


class KeyRecord(BaseModel):
    """What the store keeps about a key (everything but the key)."""

    id: str
    label: str
    roles: list[str]
    platforms: list[str] = Field(default_factory=list)
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_at: datetime | None = None
    rate_per_s: float | None = None
    digest: str = Field(exclude=True, default="")

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > _now())

    def public(self) -> dict[str, object]:
        out = self.model_dump(mode="json")
        out["active"] = self.active
        return out

    def principal(self) -> Principal:
        return Principal(key_id=self.id, roles=frozenset(self.roles), platforms=frozenset(self.platforms),
                         label=self.label, source="store", rate_per_s=self.rate_per_s)


class KeySpec(BaseModel):
    """A request for a new key."""

    label: str = Field(min_length=1, max_length=120)
    roles: list[str] = Field(min_length=1)
    platforms: list[str] = Field(default_factory=list, max_length=100)
    expires_in_days: int | None = Field(90, ge=1, le=3650, description="null = never expires")
    rate_per_s: float | None = Field(None, gt=0, le=10_000)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        return sorted(parse_roles("+".join(roles), "roles"))

    def check(self) -> None:
        if PLATFORM in self.roles and not self.platforms:
            raise ValueError("platforms: a platform key must name the platform ids it speaks for")


class IssuedKey(BaseModel):
    """Returned once at creation or rotation: the only time the key itself is shown."""

    key: str
    record: dict[str, object]


class RedisKeyStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _rec(self, key_id: str) -> str:
        return f"{self.prefix}:keys:rec:{key_id}"

    def _hash(self, hex_digest: str) -> str:
        return f"{self.prefix}:keys:h:{hex_digest}"

    @property
    def _ids(self) -> str:
        return f"{self.prefix}:keys:ids"

    # --- reads -----------------------------------------------------------------------------
    def get(self, key_id: str) -> KeyRecord | None:
        raw = self.client.get(self._rec(key_id))
        if raw is None:
            return None
        data = orjson.loads(raw)
        return KeyRecord(**data)

    def list(self) -> list[KeyRecord]:
        ids = sorted(i.decode() if isinstance(i, bytes) else i for i in self.client.smembers(self._ids))
        if not ids:
            return []
        raws = self.client.mget([self._rec(i) for i in ids])
        return [KeyRecord(**orjson.loads(r)) for r in raws if r is not None]

    def lookup_digest(self, digest: bytes) -> Principal | None:
        key_id = self.client.get(self._hash(digest.hex()))
        if key_id is None:
            return None
        record = self.get(key_id.decode() if isinstance(key_id, bytes) else key_id)
        if record is None or not record.active or record.digest != digest.hex():
            return None
        return record.principal()

    # --- writes ----------------------------------------------------------------------------
    def _save(self, record: KeyRecord) -> None:
        data = record.model_dump(mode="json")
        data["digest"] = record.digest
        self.client.set(self._rec(record.id), orjson.dumps(data))

    def create(self, spec: KeySpec) -> IssuedKey:
        spec.check()
        key_id = secrets.token_hex(6)
        key = f"tsk_{key_id}_{secrets.token_urlsafe(32)}"
        now = _now()
        record = KeyRecord(
            id=key_id, label=spec.label, roles=spec.roles, platforms=sorted(set(spec.platforms)),
            created_at=now,
            expires_at=now + timedelta(days=spec.expires_in_days) if spec.expires_in_days else None,
            rate_per_s=spec.rate_per_s, digest=digest_of(key).hex())
        pipe = self.client.pipeline(transaction=True)
        data = record.model_dump(mode="json")
        data["digest"] = record.digest
        pipe.set(self._rec(key_id), orjson.dumps(data))
        pipe.set(self._hash(record.digest), key_id)
        pipe.sadd(self._ids, key_id)
        pipe.execute()
        return IssuedKey(key=key, record=record.public())

    def rotate(self, key_id: str, expires_in_days: int | None = None) -> IssuedKey | None:
        """A new secret for the same key id; the old secret stops working immediately."""
        record = self.get(key_id)
        if record is None or record.revoked_at is not None:
            return None
        key = f"tsk_{key_id}_{secrets.token_urlsafe(32)}"
        old = record.digest
        now = _now()
        record.digest = digest_of(key).hex()
        record.rotated_at = now
        if expires_in_days:
            record.expires_at = now + timedelta(days=expires_in_days)
        pipe = self.client.pipeline(transaction=True)
        data = record.model_dump(mode="json")
        data["digest"] = record.digest
        pipe.set(self._rec(key_id), orjson.dumps(data))
        pipe.delete(self._hash(old))
        pipe.set(self._hash(record.digest), key_id)
        pipe.execute()
        return IssuedKey(key=key, record=record.public())

    def revoke(self, key_id: str) -> KeyRecord | None:
        record = self.get(key_id)
        if record is None:
            return None
        if record.revoked_at is None:
            record.revoked_at = _now()
            self._save(record)
            self.client.delete(self._hash(record.digest))
        return record
