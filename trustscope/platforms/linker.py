"""Find which known platforms a text or URL is about.

Why hand-written: the registry holds a few hundred surface forms at most, so one compiled regular
expression (longest alias first) over the simplified, lower-cased text is both simpler and faster
than pulling in an Aho-Corasick dependency. Latin aliases must stand alone (``jd`` must not match
inside ``jdbc``); Chinese aliases match anywhere, as Chinese has no spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

from trustscope.platforms.models import Platform
from trustscope.text import to_simplified

_LATIN_ONLY = re.compile(r"^[a-z0-9 .'\-]+$")


def _fold(text: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


class PlatformLinker:
    """Immutable matcher built from a registry snapshot."""

    def __init__(self, platforms: Iterable[Platform]) -> None:
        self.platforms = {p.id: p for p in platforms}
        alias_to_id: dict[str, str] = {}
        for p in self.platforms.values():
            for name in p.names():
                folded = _fold(name)
                if len(folded) >= 2:
                    alias_to_id.setdefault(folded, p.id)
        self._alias_to_id = alias_to_id
        parts = []
        for alias in sorted(alias_to_id, key=len, reverse=True):
            escaped = re.escape(alias)
            if _LATIN_ONLY.match(alias):
                escaped = rf"(?<![a-z0-9]){escaped}(?![a-z0-9])"
            parts.append(escaped)
        self._pattern = re.compile("|".join(parts)) if parts else None
        self._domains = sorted(
            ((d, p.id) for p in self.platforms.values() for d in p.domains),
            key=lambda item: len(item[0]), reverse=True,
        )

    def link_text(self, *texts: str | None) -> list[str]:
        """Platform ids mentioned in any of ``texts``, sorted."""
        if self._pattern is None:
            return []
        found: set[str] = set()
        for text in texts:
            if text:
                for m in self._pattern.finditer(_fold(text)):
                    found.add(self._alias_to_id[m.group(0)])
        return sorted(found)

    def link_url(self, url: str | None) -> list[str]:
        """Platform whose domain (or a subdomain of it) serves ``url``."""
        if not url:
            return []
        host = (urlsplit(url).hostname or "").lower()
        for domain, pid in self._domains:
            if host == domain or host.endswith("." + domain):
                return [pid]
        return []

    def link(self, declared: Iterable[str], url: str | None, *texts: str | None) -> list[str]:
        """Declared platforms plus those found in the URL and the texts."""
        return sorted(set(declared) | set(self.link_url(url)) | set(self.link_text(*texts)))
