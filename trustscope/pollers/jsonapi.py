"""JSON API responses to ``DocumentIn`` through a source's declarative field mapping."""

from __future__ import annotations

from typing import Any

import orjson

from trustscope.pollers.config import JsonSource
from trustscope.pollers.htmltext import html_to_text
from trustscope.pollers.items import Parsed, validate_item
from trustscope.pollers.mapping import MappingError, apply_mapping, get_path, items_at


def item_to_dict(item: Any, cfg: JsonSource) -> dict[str, Any]:
    """The ``DocumentIn`` fields of one API item; raises ``MappingError`` when a required one is absent."""
    data = apply_mapping(item, cfg.fields)
    if cfg.html:
        for key in ("text", "title"):
            if isinstance(data.get(key), str):
                data[key] = html_to_text(data[key]) or None
    declared = data.get("platforms") or []
    if not isinstance(declared, list):
        declared = [declared]
    data["platforms"] = [*cfg.platforms, *(str(p) for p in declared)]
    data["kind"] = cfg.kind.value
    data["source"] = cfg.source_name
    return data


def parse_json(content: bytes, cfg: JsonSource) -> Parsed:
    """Every usable item of a JSON response; unusable ones are skipped with a logged reason.

    A body that is not JSON, or has no list at ``items_path``, raises ``MappingError``: that is a
    broken source or config, not a bad item.
    """
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise MappingError(f"response is not JSON: {exc}") from exc
    parsed = Parsed()
    for i, item in enumerate(items_at(payload, cfg.items_path), 1):
        ids = cfg.fields["source_id"]
        raw_id = next((v for v in (get_path(item, p) for p in ids) if v not in (None, "")), None) \
            if isinstance(item, dict) else None
        ref = str(raw_id) if raw_id is not None else f"item #{i}"
        try:
            data = item_to_dict(item, cfg)
        except MappingError as exc:
            parsed.skip(cfg.name, ref, str(exc))
            continue
        doc = validate_item(data)
        if isinstance(doc, str):
            parsed.skip(cfg.name, ref, doc)
        else:
            parsed.items.append(doc)
    return parsed
