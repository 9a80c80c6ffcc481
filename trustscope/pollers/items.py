"""What a source's parser hands back: valid documents, and the items it skipped with the reason.

Skipping is per item on purpose: one malformed entry must not hold back the rest of a feed, but
the operator must be able to see which entry was dropped and why (each skip is logged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from trustscope.observability import get_logger
from trustscope.schemas import DocumentIn
from trustscope.web import validation_errors

LOGGER = "trustscope.pollers"


@dataclass(frozen=True, slots=True)
class Skipped:
    ref: str  # the item's id at the source when known, else its position ("item #3")
    reason: str


@dataclass(slots=True)
class Parsed:
    items: list[DocumentIn] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, source: str, ref: str, reason: str) -> None:
        self.skipped.append(Skipped(ref, reason))
        # A fresh logger each time: cheap, and structlog's capture_logs (tests) sees it even after
        # the process configured logging with cached loggers.
        get_logger(LOGGER).warning("poller.item_skipped", source=source, item=ref, reason=reason)


def validate_item(data: dict[str, Any]) -> DocumentIn | str:
    """The validated document, or the reason it is not one ("rating: ...; created_at: ...")."""
    try:
        return DocumentIn.model_validate(data)
    except ValidationError as exc:
        return "; ".join(f"{e['field']}: {e['reason']}" for e in validation_errors(exc))


def clip(text: str | None, limit: int) -> str | None:
    """Cut ``text`` to ``limit`` characters (feeds send whole articles; the head carries the tone)."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit].rstrip()
