"""API keys with roles.

Keys come from ``TS_API_KEYS`` as ``key:role[+role],...``. Roles: ``ingest`` (send data),
``reader`` (search, analytics, documents), ``alerts`` (rumour alerts), ``admin`` (registry,
dead letters; implies every other role). Keys are kept only as SHA-256 digests in memory and
compared in constant time, so a key never appears in logs or tracebacks.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

ROLES = frozenset({"ingest", "reader", "alerts", "admin"})


@dataclass(frozen=True)
class Principal:
    key_id: str  # first 8 hex chars of the digest: safe to log
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles


class KeyRing:
    def __init__(self, spec: str) -> None:
        self._keys: dict[bytes, Principal] = {}
        for item in (s.strip() for s in spec.split(",")):
            if not item:
                continue
            key, sep, roles_part = item.rpartition(":")
            if not sep or not key:
                raise ValueError("TS_API_KEYS entries look like key:role[+role]")
            roles = frozenset(r.strip() for r in roles_part.split("+") if r.strip())
            unknown = roles - ROLES
            if unknown:
                raise ValueError(f"unknown role(s) in TS_API_KEYS: {sorted(unknown)}")
            digest = hashlib.sha256(key.encode()).digest()
            self._keys[digest] = Principal(digest.hex()[:8], roles)

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, presented: str | None) -> Principal | None:
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for known, principal in self._keys.items():  # constant time over all keys
            if hmac.compare_digest(known, digest):
                found = principal
        return found
