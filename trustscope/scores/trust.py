"""The trust index: one number per platform from four components, each shown beside it.

Components (each in [0, 1], higher = more trustworthy):

- ``satisfaction`` = (verified score - 1) / 4. Needs a shown verified score: without one there is
  no index at all (a trust index built on the prior would be the prior in disguise).
- ``word_of_mouth`` = (1 + net sentiment) / 2 over the last 30 days of everything said about the
  platform (reviews, news, posts), net = (positive - negative) / all; the change against the 30 days
  before (``trend``) is shown beside it but not scored.
- ``violations`` = 1 - (fake + suspicious) / all reviews.
- ``rumour_load`` = 1 - min(1, 2 * rumour share + sum of open-alert weights), rumour share = texts
  with rumour score >= 0.5 among the last 30 days', alert weights low 0.05, medium 0.1, high 0.2,
  critical 0.3.

``index = 100 * sum(w_i * c_i) / sum(w_i)`` with weights satisfaction 0.40, word of mouth 0.25,
violations 0.20, rumour load 0.15, over the components that have data (``no_data`` ones leave the
sum and are listed). When a source is unavailable (Elasticsearch down) the index is withheld rather
than computed from fewer components than usual (``unavailable``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

WEIGHTS = {"satisfaction": 0.40, "word_of_mouth": 0.25, "violations": 0.20, "rumour_load": 0.15}
ALERT_WEIGHTS = {"low": 0.05, "medium": 0.10, "high": 0.20, "critical": 0.30}
RUMOUR_THRESHOLD = 0.5
WINDOW_DAYS = 30


class Component(BaseModel):
    name: str
    weight: float
    value: float | None = Field(None, description="0-1, higher is better; null without data")
    status: Literal["ok", "no_data", "unavailable"] = "ok"
    basis: dict[str, Any] = Field(default_factory=dict, description="the figures the value comes from")


class TrustIndex(BaseModel):
    index: float | None = Field(None, description="0-100; null when withheld")
    status: Literal["ok", "withheld"]
    reason: str | None = None
    components: list[Component]
    weights: dict[str, float] = Field(default_factory=lambda: dict(WEIGHTS))
    formula: str = "index = 100 * sum(w_i * c_i) / sum(w_i) over components with data"


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def satisfaction(score: dict[str, Any]) -> Component:
    c = Component(name="satisfaction", weight=WEIGHTS["satisfaction"],
                  basis={"verified_score": score.get("verified_score"), "verified": score.get("verified")})
    if score.get("status") != "ok" or score.get("verified_score") is None:
        c.status = "no_data"
    else:
        c.value = round(_clip((float(score["verified_score"]) - 1.0) / 4.0), 4)
    return c


def word_of_mouth(recent: dict[str, int] | None, previous: dict[str, int] | None) -> Component:
    c = Component(name="word_of_mouth", weight=WEIGHTS["word_of_mouth"])
    if recent is None:
        c.status = "unavailable"
        return c

    def net(counts: dict[str, int]) -> float | None:
        n = sum(counts.get(k, 0) for k in ("positive", "negative", "neutral"))
        return None if n == 0 else (counts.get("positive", 0) - counts.get("negative", 0)) / n

    now_net, before = net(recent), net(previous or {})
    c.basis = {"window_days": WINDOW_DAYS, "recent": recent, "previous": previous or {},
               "net_sentiment": None if now_net is None else round(now_net, 4),
               "trend": None if now_net is None or before is None else round(now_net - before, 4)}
    if now_net is None:
        c.status = "no_data"
    else:
        c.value = round(_clip((1.0 + now_net) / 2.0), 4)
    return c


def violations(score: dict[str, Any]) -> Component:
    total = int(score.get("total") or 0)
    bad = int(score.get("fake") or 0) + int(score.get("suspicious") or 0)
    c = Component(name="violations", weight=WEIGHTS["violations"],
                  basis={"reviews": total, "fake": score.get("fake", 0), "suspicious": score.get("suspicious", 0),
                         "share": None if total == 0 else round(bad / total, 4)})
    if total == 0:
        c.status = "no_data"
    else:
        c.value = round(_clip(1.0 - bad / total), 4)
    return c


def rumour_load(rumour_docs: int | None, docs: int | None, open_alerts: list[dict[str, Any]] | None) -> Component:
    c = Component(name="rumour_load", weight=WEIGHTS["rumour_load"])
    if rumour_docs is None or docs is None or open_alerts is None:
        c.status = "unavailable"
        return c
    share = rumour_docs / docs if docs else 0.0
    alert_load = sum(ALERT_WEIGHTS.get(str(a.get("level")), ALERT_WEIGHTS["medium"]) for a in open_alerts)
    c.basis = {"window_days": WINDOW_DAYS, "texts": docs, "rumour_texts": rumour_docs, "rumour_share": round(share, 4),
               "open_alerts": len(open_alerts), "alert_load": round(alert_load, 4)}
    if docs == 0 and not open_alerts:
        c.status = "no_data"
    else:
        c.value = round(_clip(1.0 - min(1.0, 2.0 * share + alert_load)), 4)
    return c


def trust_index(components: list[Component]) -> TrustIndex:
    by_name = {c.name: c for c in components}
    if by_name["satisfaction"].status != "ok":
        return TrustIndex(status="withheld", reason="needs a verified score (not enough verified reviews yet)",
                          components=components)
    missing = [c.name for c in components if c.status == "unavailable"]
    if missing:
        return TrustIndex(status="withheld", reason=f"sources unavailable: {', '.join(missing)}", components=components)
    scored = [c for c in components if c.status == "ok" and c.value is not None]
    total_w = sum(c.weight for c in scored)
    value = 100.0 * sum(c.weight * float(c.value) for c in scored) / total_w  # type: ignore[arg-type]
    return TrustIndex(index=round(value, 1), status="ok", components=components)
