"""One document's contribution to its platforms' verified-score sums, as a flat ``{field: number}``.

The sums are whatever ``trustscope.integrity.score.ScoreAccumulator`` holds: this module flattens
every additive field of the dataclass (numbers, lists of numbers, counters) into ``a:<name>``,
``a:<name>.<index>`` and ``a:<name>.<key>``, so a change of the accumulator's fields in the
integrity library needs no change here. Parameters (``suspicious_weight``, ``half_life_days`` and any
name in ``ScoreAccumulator.PARAMS``) are not sums and are not stored.

Our own additive extras are prefixed ``x:``: the verified rating distribution (``x:dist.<stars>``)
and ``x:unverified`` - reviews without a known verdict. Those count in the total but never as
verified (the accumulator would take a missing verdict for ``verified``; we do not).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trustscope.integrity.score import ScoreAccumulator
from trustscope.schemas import parse_time

KNOWN_VERDICTS = ("verified", "suspicious", "fake")
UNVERIFIED = "unverified"
_PARAMS = frozenset({"suspicious_weight", "half_life_days"}) | frozenset(getattr(ScoreAccumulator, "PARAMS", ()))


@dataclass(frozen=True)
class Contribution:
    """What one document adds to each of its platforms' sums; ``revision`` orders its versions."""

    doc_id: str
    platforms: tuple[str, ...]
    revision: int
    fields: dict[str, float]


def flatten(acc: ScoreAccumulator) -> dict[str, float]:
    """The accumulator's additive fields as ``{"a:name[.part]": number}`` (zeros left out)."""
    out: dict[str, float] = {}
    for f in dataclasses.fields(acc):
        if f.name in _PARAMS:
            continue
        value = getattr(acc, f.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[f"a:{f.name}"] = float(value)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                out[f"a:{f.name}.{k}"] = float(v)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                out[f"a:{f.name}.{i}"] = float(v)
    return {k: v for k, v in out.items() if v != 0.0}


def unflatten(state: Mapping[str, float]) -> ScoreAccumulator:
    """A ``ScoreAccumulator`` holding the sums in ``state`` (the inverse of ``flatten``)."""
    acc = ScoreAccumulator()
    for f in dataclasses.fields(acc):
        if f.name in _PARAMS:
            continue
        current = getattr(acc, f.name)
        if isinstance(current, bool):
            continue
        if isinstance(current, int):
            setattr(acc, f.name, int(round(state.get(f"a:{f.name}", 0.0))))
        elif isinstance(current, float):
            setattr(acc, f.name, float(state.get(f"a:{f.name}", 0.0)))
        elif isinstance(current, Mapping):
            head = f"a:{f.name}."
            items = {k[len(head):]: v for k, v in state.items() if k.startswith(head)}
            counts = Counter({k: int(round(v)) for k, v in items.items() if round(v) != 0})
            setattr(acc, f.name, counts if isinstance(current, Counter) else dict(counts))
        elif isinstance(current, list):
            setattr(acc, f.name, [float(state.get(f"a:{f.name}.{i}", 0.0)) for i in range(len(current))])
    return acc


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if doc is None:
            return None
        doc = doc.get(key) if isinstance(doc, Mapping) else getattr(doc, key, None)
    return doc


def contribution_of(doc: Mapping[str, Any]) -> Contribution | None:
    """The contribution of one indexed document (its JSON form), or None when it is not a review
    for any platform. A missing or unknown verdict counts as ``unverified``, never as verified."""
    if _get(doc, "kind") != "review":
        return None
    platforms = tuple(sorted({str(p) for p in (_get(doc, "platforms") or [])}))
    if not platforms:
        return None
    verdict = _get(doc, "integrity", "verdict")
    rating = _get(doc, "rating")
    created = _get(doc, "created_at")
    created_ts = parse_time(created).timestamp() if created is not None else None
    acc = ScoreAccumulator()
    extras: dict[str, float] = {}
    if verdict in KNOWN_VERDICTS:
        acc.add({"rating": rating, "verdict": verdict, "created_at": created_ts,
                 "reasons": _get(doc, "integrity", "reasons") or []})
        if verdict == "verified" and rating is not None:
            extras[f"x:dist.{int(rating)}"] = 1.0
    else:
        # Counted and reported as excluded, with no weight: the accumulator has no such verdict, so
        # the row goes in as a zero-weight suspicious one and its suspicious count is moved over.
        acc.add({"rating": rating, "verdict": "suspicious", "created_at": created_ts, "reasons": [UNVERIFIED]})
        acc.suspicious -= 1
        extras[f"x:{UNVERIFIED}"] = 1.0
    fields = {**flatten(acc), **extras}
    revision = int(_get(doc, "integrity", "revision") or 0) if verdict in KNOWN_VERDICTS else -1
    return Contribution(doc_id=str(doc["id"]), platforms=platforms, revision=revision, fields=fields)
