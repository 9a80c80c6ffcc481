"""Stable identifiers: the same (source, source_id) always gives the same document id.

Stable ids are what make every write idempotent: a replayed stream message or a re-posted batch
overwrites the same Elasticsearch document instead of adding a new one.
"""

from __future__ import annotations

import hashlib


def document_id(source: str, source_id: str) -> str:
    """32 hex characters of SHA-256 over ``source`` and ``source_id`` (separator cannot occur in source)."""
    digest = hashlib.sha256(f"{source.strip().lower()}\x1f{source_id.strip()}".encode()).hexdigest()
    return digest[:32]


def content_hash(*parts: str | None) -> str:
    """Hash of the fields that matter for re-processing: an unchanged re-post is a duplicate."""
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode())
        h.update(b"\x1f")
    return h.hexdigest()[:24]
