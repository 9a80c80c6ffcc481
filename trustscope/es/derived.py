"""Fields derived from a document at indexing time, for aggregations that would otherwise have to
read every document's text.

``phrases``: the distinct Chinese character bigrams and trigrams of the (simplified) text, as a
keyword field. With the plugin-free standard analyzer Chinese is indexed one character per token,
so Elasticsearch's ``significant_text`` would rank single characters; bigrams are words far more
often. As keywords, ``significant_terms`` scores them in one request: foreground counts from a
sample, background counts from the index's term statistics. The field is excluded from ``_source``
(it is derived, and would double the size of every hit and export row); a migration derives it
again for every copied document.
"""

from __future__ import annotations

import re
from typing import Any

PHRASE_FIELD = "phrases"
MAX_PHRASE_CHARS = 2000  # a long article contributes the phrases of its first 2,000 characters
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")


def phrases(text: str | None) -> list[str]:
    """Distinct bigrams and trigrams of every run of Chinese characters, in first-seen order."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for run in _CJK_RUN.findall(text[:MAX_PHRASE_CHARS]):
        for k in (2, 3):
            for i in range(len(run) - k + 1):
                seen.setdefault(run[i:i + k], None)
    return list(seen)


def with_derived(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` plus its derived fields (a new dict; the caller's document is left as it was)."""
    text = doc.get("text_simplified") or doc.get("text")
    return {**doc, PHRASE_FIELD: phrases(text if isinstance(text, str) else None)}
