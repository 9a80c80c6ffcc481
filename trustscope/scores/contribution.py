"""One document's contribution to its platforms' verified-score state, as flat ``{field: number}``.

The state is what ``trustscope.integrity.score.ScoreAccumulator`` holds (the robust formula,
docs/integrity.md "score"), split in two because the per-author share (each of an author's reviews
weighs ``w / author_divisor(n_author)``) is not additive:

* additive sums, summed per platform in ``P:score:p:<platform>`` (``flatten``): every number, list
  and mapping of the dataclass except ``authors`` as ``a:<name>``, ``a:<name>.<index>``,
  ``a:<name>.<key>`` (``a:star_w.0``, ``a:excluded.<code>``, ``a:est_week.<week>``...), plus our
  extras ``x:dist.<stars>`` (verified rating distribution) and ``x:unverified`` (reviews without a
  known verdict: counted in the total, never as verified);
* per-author sums, in ``P:score:a:<platform>`` (``author_fields``): ``<author>.n`` and
  ``<author>.<bucket>.<star>`` with ``<author>`` escaped by ``author_key`` (``%`` and ``.``
  percent-encoded, the anonymous pseudo-author is ``%00``), and ``<author>.b`` listing its buckets;
* derived shared sums ``s:<bucket>.<star>`` in the platform hash: the per-author shares summed by
  bucket (``sum_a vec_a / author_divisor(n_a)``). The store's script keeps them up to date whenever an author's
  state changes, so a read needs the platform hash only (its size grows with weeks and
  registration cohorts, never with authors) and ``unflatten`` gives an accumulator whose
  ``result()`` applies the weak and cohort caps exactly as ``verified_score`` does.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from trustscope.integrity.score import ANON, ScoreAccumulator, author_divisor
from trustscope.schemas import parse_time

KNOWN_VERDICTS = ("verified", "suspicious", "fake")
UNVERIFIED = "unverified"
SHARED = "s:"
_PARAMS = frozenset({"suspicious_weight", "half_life_days"}) | frozenset(getattr(ScoreAccumulator, "PARAMS", ()))
_NOT_ADDITIVE = frozenset({"authors"})


@dataclass(frozen=True)
class Contribution:
    """What one document adds to each of its platforms' state; ``revision`` orders its versions.

    ``author`` is the escaped author key (``author_key``), "" when the review adds nothing to any
    author (no rating); ``author_fields`` its additive per-author delta (``n``, ``<bucket>.<star>``)."""

    doc_id: str
    platforms: tuple[str, ...]
    revision: int
    fields: dict[str, float]
    author: str = ""
    author_fields: dict[str, float] = field(default_factory=dict)


def author_key(author: str) -> str:
    """The hash-field form of an author id: ``%``, ``.`` (it separates parts) and ``\\x1f`` (it
    separates a packed doc record's parts, ``store.US``) percent-encoded."""
    if author == ANON:
        return "%00"
    return author.replace("%", "%25").replace(".", "%2E").replace("\x1f", "%1F")


def author_id_of(key: str) -> str:
    return ANON if key == "%00" else key.replace("%1F", "\x1f").replace("%2E", ".").replace("%25", "%")


def _additive_fields(acc: ScoreAccumulator) -> Iterator[tuple[str, Any]]:
    """``acc``'s fields that the platform hash stores as ``a:`` sums: neither parameters, nor the
    per-author table, nor flags."""
    for f in dataclasses.fields(acc):
        if f.name in _PARAMS or f.name in _NOT_ADDITIVE:
            continue
        value = getattr(acc, f.name)
        if not isinstance(value, bool):
            yield f.name, value


def flatten(acc: ScoreAccumulator, shared: bool = True) -> dict[str, float]:
    """The platform-hash form of an accumulator: additive ``a:`` sums and (``shared``) the derived
    ``s:<bucket>.<star>`` per-author shares (zeros left out)."""
    out: dict[str, float] = {}
    for name, value in _additive_fields(acc):
        if isinstance(value, (int, float)):
            out[f"a:{name}"] = float(value)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                out[f"a:{name}.{k}"] = float(v)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                out[f"a:{name}.{i}"] = float(v)
    if shared:
        sums = SharedSums()
        for author, (n, buckets) in acc.authors.items():
            sums.apply(author_key(author), author_fields(n, buckets), 1)
        out.update(sums.shared)
    return {k: v for k, v in out.items() if v != 0.0}


def author_fields(n: int, buckets: Mapping[str, list[float]]) -> dict[str, float]:
    """One author's state (``[n, {bucket: [5 weights]}]``) as ``{"n": n, "<bucket>.<star>": w}``."""
    out = {"n": float(n)}
    for b, vec in buckets.items():
        for k, v in enumerate(vec):
            if v != 0.0:
                out[f"{b}.{k + 1}"] = float(v)
    return out


class SharedSums:
    """Per-author sums and the derived ``s:`` shares, kept incrementally exactly as the store's Lua
    script keeps them (used by ``rebuild`` and by tests that need no Redis)."""

    def __init__(self) -> None:
        self.authors: dict[str, dict[str, float]] = {}
        self.shared: dict[str, float] = {}

    def apply(self, key: str, delta: Mapping[str, float], sign: int) -> None:
        if not key:
            return
        cur = self.authors.get(key, {})
        div_old = 1.0 if key == "%00" else author_divisor(cur.get("n", 0.0))
        new = dict(cur)
        for f, v in delta.items():
            new[f] = new.get(f, 0.0) + sign * v
        n_new = new.get("n", 0.0)
        gone = n_new <= 0
        div_new = 1.0 if key == "%00" else author_divisor(n_new)
        for f in set(cur) | set(new):
            if f == "n":
                continue
            d = (0.0 if gone else new.get(f, 0.0) / div_new) - cur.get(f, 0.0) / div_old
            if d != 0.0:
                s = SHARED + f
                self.shared[s] = self.shared.get(s, 0.0) + d
        if gone:
            self.authors.pop(key, None)
        else:
            self.authors[key] = new

    def hash_fields(self) -> dict[str, float]:
        """The per-author hash (``<author>.n``, ``<author>.<bucket>.<star>``), bucket lists left out."""
        return {f"{a}.{f}": v for a, fs in self.authors.items() for f, v in fs.items()}


def unflatten(state: Mapping[str, float]) -> ScoreAccumulator:
    """A ``ScoreAccumulator`` whose ``result()`` is the platform's score, from the platform hash.

    The derived ``s:`` shares go in as one pseudo-author counted once (``ANON``, never divided), so
    ``result`` applies the weak and cohort caps to exactly the per-author shares ``verified_score``
    would compute. It is for reading: adding reviews to it would not divide by their authors."""
    acc = ScoreAccumulator()
    for name, current in _additive_fields(acc):
        if isinstance(current, int):
            setattr(acc, name, int(round(state.get(f"a:{name}", 0.0))))
        elif isinstance(current, float):
            setattr(acc, name, float(state.get(f"a:{name}", 0.0)))
        elif isinstance(current, Counter):
            head = f"a:{name}."
            items = {k[len(head):]: v for k, v in state.items() if k.startswith(head)}
            setattr(acc, name, Counter({k: int(round(v)) for k, v in items.items() if round(v) != 0}))
        elif isinstance(current, Mapping):  # week -> weight (est_week): int keys, float values
            head = f"a:{name}."
            setattr(acc, name, {int(k[len(head):]): float(v) for k, v in state.items() if k.startswith(head)})
        elif isinstance(current, list):
            setattr(acc, name, [float(state.get(f"a:{name}.{i}", 0.0)) for i in range(len(current))])
    buckets: dict[str, list[float]] = {}
    for k, v in state.items():
        if k.startswith(SHARED):
            b, star = k[len(SHARED):].rsplit(".", 1)
            buckets.setdefault(b, [0.0] * 5)[int(star) - 1] = float(v)
    if buckets:
        acc.authors = {ANON: [1, buckets]}
    return acc


def sum_contributions(contributions: Iterable[Contribution]) -> tuple[dict[str, float], SharedSums]:
    """The platform hash (additive sums + ``s:`` shares) and the per-author sums of contributions
    applied in order (for one platform)."""
    state: dict[str, float] = {}
    authors = SharedSums()
    for c in contributions:
        for k, v in c.fields.items():
            state[k] = state.get(k, 0.0) + v
        authors.apply(c.author, c.author_fields, 1)
    state.update({k: state.get(k, 0.0) + v for k, v in authors.shared.items()})
    return {k: v for k, v in state.items() if v != 0.0}, authors


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if doc is None:
            return None
        doc = doc.get(key) if isinstance(doc, Mapping) else getattr(doc, key, None)
    return doc


def _ts(value: Any) -> float | None:
    return None if value is None else parse_time(value).timestamp()


def contribution_of(doc: Mapping[str, Any]) -> Contribution | None:
    """The contribution of one indexed document (its JSON form), or None when it is not a review
    for any platform. A missing or unknown verdict counts as ``unverified``, never as verified
    (it still counts towards its author's number of reviews, like any rated review not kept)."""
    if _get(doc, "kind") != "review":
        return None
    platforms = tuple(sorted({str(p) for p in (_get(doc, "platforms") or [])}))
    if not platforms:
        return None
    verdict = _get(doc, "integrity", "verdict")
    rating = _get(doc, "rating")
    author = _get(doc, "author_id")
    item = {"rating": rating, "created_at": _ts(_get(doc, "created_at")), "author_id": author,
            "author_created_at": _ts(_get(doc, "author_created_at")),
            "author_review_count": _get(doc, "author_review_count")}
    acc = ScoreAccumulator()
    extras: dict[str, float] = {}
    if verdict in KNOWN_VERDICTS:
        acc.add({**item, "verdict": verdict, "reasons": _get(doc, "integrity", "reasons") or []})
        if verdict == "verified" and rating is not None:
            extras[f"x:dist.{int(rating)}"] = 1.0
    else:
        # Counted and reported as excluded, with no weight: the accumulator has no such verdict, so
        # the row goes in as a zero-weight suspicious one and its suspicious count is moved over.
        acc.add({**item, "verdict": "suspicious", "reasons": [UNVERIFIED]})
        acc.suspicious -= 1
        extras[f"x:{UNVERIFIED}"] = 1.0
    fields = {**flatten(acc, shared=False), **extras}
    key, delta = "", {}
    for a, (n, buckets) in acc.authors.items():  # at most one: this review's author
        key, delta = author_key(a), author_fields(n, buckets)
    revision = int(_get(doc, "integrity", "revision") or 0) if verdict in KNOWN_VERDICTS else -1
    return Contribution(doc_id=str(doc["id"]), platforms=platforms, revision=revision, fields=fields,
                        author=key, author_fields=delta)
