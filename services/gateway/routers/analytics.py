"""Regulator analytics: sentiment over time and friends."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends

from services.gateway import queries
from services.gateway.deps import ES, Indices, KnownPlatform, require_role, time_param
from services.gateway.routers.search import KINDS
from trustscope.auth import REGULATOR, Principal
from trustscope.web import ApiError

router = APIRouter(tags=["analytics"])
Regulator = Annotated[Principal, Depends(require_role(REGULATOR))]


@router.get("/v1/platforms/{platform_id}/sentiment")
def sentiment_trend(
    es: ES, indices: Indices, _p: Regulator, platform: KnownPlatform,
    interval: Literal["hour", "day", "week", "month"] = "day",
    since: str | None = None, until: str | None = None,
    kind: KINDS | None = None, tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Public sentiment about a platform over time."""
    flt = queries.filters(platform.id, kind, None, time_param(since, "since"), time_param(until, "until"))
    try:
        result = es.search(index=indices.read_alias, **queries.sentiment_over_time(flt, interval, tz))
    except Exception as exc:  # noqa: BLE001 - a bad time zone is the caller's error
        if "zone" in str(exc).lower():
            raise ApiError(400, "bad_parameter", f"tz: unknown time zone '{tz}'") from exc
        raise
    return {"platform": platform.id, "interval": interval, "tz": tz,
            "buckets": queries.shape_over_time(result.body)}
