"""Public verified scores: one read of the maintained state, so it answers while Elasticsearch is down."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.gateway import scores
from services.gateway.deps import KnownPlatform

router = APIRouter(tags=["scores"])


@router.get("/v1/platforms/{platform_id}/score")
def platform_score(request: Request, platform: KnownPlatform,
                   lang: Annotated[str, Query(pattern="^(zh|en)$")] = "en") -> dict[str, Any]:
    """Verified review score: only reviews that passed the integrity checks count; excluded ones are
    counted by reason. Below ``score_min_verified`` verified reviews the score is withheld
    (``status: insufficient``, ``verified_score: null``) with the counts."""
    settings = request.app.state.settings
    return scores.platform_score_view(scores.store_of(request), platform.id, settings.score_min_verified,
                                      lang).to_dict()


@router.get("/v1/platforms/{platform_id}/score/history")
def platform_score_history(request: Request, platform: KnownPlatform) -> dict[str, Any]:
    """Daily snapshots of the verified score (UTC days; null score on days it was withheld)."""
    min_verified = request.app.state.settings.score_min_verified
    return {"platform": platform.id, "history": scores.store_of(request).history(platform.id, min_verified)}
