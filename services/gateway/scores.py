"""Verified scores for the gateway: one read of the maintained state (``trustscope.scores``).

No Elasticsearch scan, no cache: the indexer keeps each platform's sums in Redis as verdicts arrive
and are revised, so a read is one HGETALL, exact, and works while Elasticsearch is down.
"""

from __future__ import annotations

from typing import Any

import redis
from fastapi import Request

from trustscope.scores import ScoreStore, ScoreView, score_view


def store_of(request: Request) -> ScoreStore:
    """The app's ScoreStore (made on first use; the Lua script is registered once)."""
    store = getattr(request.app.state, "score_store", None)
    if store is None:
        settings = request.app.state.settings
        store = ScoreStore(request.app.state.redis, settings.stream_prefix)
        request.app.state.score_store = store
    return store  # type: ignore[no-any-return]


def platform_score_view(store: ScoreStore, platform_id: str, min_verified: int, lang: str = "en") -> ScoreView:
    return score_view(platform_id, store.state(platform_id), min_verified=min_verified, lang=lang)


def platform_score(client: redis.Redis, prefix: str, platform_id: str, min_verified: int,
                   lang: str = "en") -> dict[str, Any]:
    """The score JSON of ``/v1/platforms/{id}/score``."""
    return platform_score_view(ScoreStore(client, prefix), platform_id, min_verified, lang).to_dict()
