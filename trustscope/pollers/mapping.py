"""A small declarative mapping from a JSON API's items to ``DocumentIn`` fields.

A source's YAML says where each field lives in an item, as dotted paths (``user.id``,
``images.0.url``), optionally a list of alternatives tried in order (``[content, summary]``).
Declarative rather than code so that adding a source is a config change an operator can review,
and because every API we meet differs only in *where* the fields are, not in what they mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Targets a mapping may fill; dotted ones build the nested ``author`` object.
TARGETS = frozenset({
    "source_id", "text", "title", "url", "created_at", "rating", "language", "platforms",
    "author.id", "author.name", "author.created_at", "author.review_count",
    "parent_id", "root_id", "depth",  # threads: ids at the same source
})
REQUIRED_TARGETS = frozenset({"source_id", "text", "created_at"})
#: Targets the schema wants as strings though APIs often send numbers (ids above all).
_AS_STRING = frozenset({"source_id", "parent_id", "root_id", "author.id", "author.name", "title", "text", "url", "language"})

_MISSING = object()


class MappingError(ValueError):
    """The payload does not have the shape the source's config promises."""


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted ``path`` (list indices allowed), or ``None`` when any step is absent.

    An empty path means the object itself (an API whose body is the list of items).
    """
    if not path:
        return obj
    current = obj
    for step in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(step, _MISSING)
        elif isinstance(current, Sequence) and not isinstance(current, (str, bytes)) and _is_index(step):
            index = int(step)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            return None
        if current is _MISSING:
            return None
    return current


def _is_index(step: str) -> bool:
    return step.lstrip("-").isdigit()


def items_at(payload: Any, items_path: str) -> list[Any]:
    """The list of items at ``items_path``; a clear error when the payload is not shaped so."""
    items = get_path(payload, items_path)
    if items is None:
        where = f"at {items_path!r}" if items_path else "at the top level"
        raise MappingError(f"no items {where} of the response")
    if not isinstance(items, list):
        raise MappingError(f"expected a list of items at {items_path or '(top level)'!r}, "
                           f"got {type(items).__name__}")
    return items


def _first_present(item: Any, paths: Sequence[str]) -> Any:
    for path in paths:
        value = get_path(item, path)
        if value is not None and value != "" and value != []:
            return value
    return None


def _coerce(target: str, value: Any) -> Any:
    if target in _AS_STRING and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if target == "rating" and isinstance(value, float) and value.is_integer():
        return int(value)
    if target in ("rating", "author.review_count") and isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())  # the API is strict (no string as a number); feeds say "2"
    if target == "platforms" and isinstance(value, str):
        return [p for p in (s.strip() for s in value.split(",")) if p]
    return value


def apply_mapping(item: Any, fields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """A ``DocumentIn``-shaped dict (without kind/source) from one API item.

    Missing optional fields are left out (so is the author when its id is missing); missing
    required ones raise ``MappingError`` naming the paths looked up, which is what an operator needs
    to fix the config.
    """
    if not isinstance(item, Mapping):
        raise MappingError(f"item is a {type(item).__name__}, not an object")
    out: dict[str, Any] = {}
    author: dict[str, Any] = {}
    for target, paths in fields.items():
        value = _first_present(item, paths)
        if value is None:
            if target in REQUIRED_TARGETS:
                raise MappingError(f"{target}: nothing at {' | '.join(paths)}")
            continue
        value = _coerce(target, value)
        if target.startswith("author."):
            author[target.split(".", 1)[1]] = value
        else:
            out[target] = value
    if "id" in author:  # the schema needs an author id; without one the author is left out
        out["author"] = author
    return out
