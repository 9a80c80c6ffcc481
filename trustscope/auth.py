"""API keys with roles: who may call what.

Roles are the users of TrustScope:

- ``public``     nobody's key: what anyone may read (health, platforms, scores, widgets).
- ``platform``   a platform's own key. It carries the platform ids it speaks for and may touch only
                 those: submit reviews, reply to reviews, read its own documents.
- ``risk_team``  rumour alerts, watchlists and webhooks.
- ``regulator``  search, analytics and export across every platform (every use audited).
- ``admin``      keys, the platform registry, dead letters, the audit log; holds every other role.
- ``ingest``     a service role for pipeline clients and pollers that send data.

Keys come from two places, both kept only as SHA-256 digests (a key is 32 random bytes, so a slow
hash adds nothing): the bootstrap keys in ``TS_API_KEYS`` (``key:role[+role][@platform+platform]``,
comma separated) and the Redis key store (``trustscope.keys``), which adds expiry, labels, rotation
and revocation. The old role names ``reader`` (now ``regulator``) and ``alerts`` (now ``risk_team``)
are still accepted in ``TS_API_KEYS`` so existing deployments keep working.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Protocol

PUBLIC, PLATFORM, RISK_TEAM, REGULATOR, ADMIN, INGEST = (
    "public", "platform", "risk_team", "regulator", "admin", "ingest")
ROLES = frozenset({PUBLIC, PLATFORM, RISK_TEAM, REGULATOR, ADMIN, INGEST})
ROLE_ALIASES = {"reader": REGULATOR, "alerts": RISK_TEAM}
#: roles that see every platform; a key holding none of these is limited to its own platforms
ALL_PLATFORMS_ROLES = frozenset({ADMIN, REGULATOR, RISK_TEAM, INGEST})


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse_roles(text: str, where: str = "roles") -> frozenset[str]:
    """``'reader+admin'`` -> ``{'regulator', 'admin'}``; unknown names raise ValueError."""
    names = [ROLE_ALIASES.get(r.strip(), r.strip()) for r in text.split("+") if r.strip()]
    unknown = set(names) - ROLES
    if unknown:
        raise ValueError(f"unknown role(s) in {where}: {sorted(unknown)}; known: {sorted(ROLES)}")
    if not names:
        raise ValueError(f"{where}: at least one role is needed")
    return frozenset(names)


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``key_id`` is safe to log; the key itself never leaves the auth layer."""

    key_id: str
    roles: frozenset[str]
    platforms: frozenset[str] = field(default_factory=frozenset)
    label: str = ""
    source: str = "env"  # env | store | anonymous
    rate_per_s: float | None = None  # per-key override of the default rate limit

    def has(self, role: str) -> bool:
        role = ROLE_ALIASES.get(role, role)
        return ADMIN in self.roles or role in self.roles or role == PUBLIC

    @property
    def role(self) -> str:
        """The principal's main role, for audit lines: the most powerful one it holds."""
        for name in (ADMIN, REGULATOR, RISK_TEAM, PLATFORM, INGEST):
            if name in self.roles:
                return name
        return PUBLIC

    @property
    def all_platforms(self) -> bool:
        return bool(self.roles & ALL_PLATFORMS_ROLES)

    def may_access_platform(self, platform_id: str) -> bool:
        return self.all_platforms or platform_id in self.platforms


ANONYMOUS = Principal(key_id="anonymous", roles=frozenset({PUBLIC}), source="anonymous")


class KeyLookup(Protocol):
    """A source of stored keys (``trustscope.keys.RedisKeyStore``)."""

    def lookup_digest(self, digest: bytes) -> Principal | None: ...


class KeyRing:
    """Bootstrap keys from settings, then (when given) the Redis key store."""

    def __init__(self, spec: str, store: KeyLookup | None = None) -> None:
        self._keys: dict[bytes, Principal] = {}
        self.store = store
        for item in (s.strip() for s in spec.split(",")):
            if not item:
                continue
            key, sep, rest = item.rpartition(":")
            if not sep or not key:
                raise ValueError("TS_API_KEYS entries look like key:role[+role][@platform+platform]")
            roles_part, _, platforms_part = rest.partition("@")
            roles = parse_roles(roles_part, "TS_API_KEYS")
            platforms = frozenset(p.strip() for p in platforms_part.split("+") if p.strip())
            digest = digest_of(key)
            self._keys[digest] = Principal(digest.hex()[:8], roles, platforms, label="TS_API_KEYS")

    @classmethod
    def from_settings(cls, settings: object, client: object | None = None) -> KeyRing:
        """The keyring a service should use: ``TS_API_KEYS`` plus the Redis key store on ``client``."""
        spec = settings.api_keys.get_secret_value()  # type: ignore[attr-defined]
        store = None
        if client is not None:
            from trustscope.keys import RedisKeyStore

            store = RedisKeyStore(client, settings.stream_prefix)  # type: ignore[attr-defined, arg-type]
        return cls(spec, store)

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, presented: str | None) -> Principal | None:
        if not presented:
            return None
        digest = digest_of(presented)
        found = None
        for known, principal in self._keys.items():  # constant time over all bootstrap keys
            if hmac.compare_digest(known, digest):
                found = principal
        if found is None and self.store is not None:
            found = self.store.lookup_digest(digest)
        return found
