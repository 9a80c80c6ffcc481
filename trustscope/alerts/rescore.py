"""Story-level re-scoring: the rumour model scores a story as it stands, its first post with the
thread that has arrived (comments, reposts, their times, depth and authors), through the model's
public API (``RumourModel.predict_proba`` on a ``RumourEvent``), as the model was trained: propagation
features are computed from what has arrived so far, relative to the first post.

The integrity stage scores each post alone (it does not know the thread); here the alerter, which
holds the story, gives the model the context. A story is re-scored at a few growth points
(``AlertConfig.rescore_at``, then every ``rescore_every`` posts), so the cost per story is
logarithmic in its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import Story


def due(story: Story, cfg: AlertConfig) -> bool:
    """Whether ``story`` has grown to a re-scoring point since it was last re-scored."""
    if not story.model_headline or story.volume < 2 or story.volume <= story.rescored_volume:
        return False
    points = [v for v in cfg.rescore_at if story.rescored_volume < v <= story.volume]
    if points:
        return True
    last = cfg.rescore_at[-1] if cfg.rescore_at else 1
    return story.volume > last and story.volume - max(story.rescored_volume, last) >= cfg.rescore_every


def story_event(posts: Sequence[dict[str, Any]]) -> Any:
    """The story as a ``RumourEvent``: the first post, and the later ones as its reposts."""
    from trustscope.rumour.events import MAX_COMMENT_CHARS, Repost, RumourEvent

    head, rest = posts[0], sorted(posts[1:], key=lambda p: p["t"])
    t0 = float(head["t"])
    reposts = [Repost(mid=str(p["id"]), parent=str(p.get("parent") or ""), uid=str(p.get("uid") or ""),
                      text=str(p.get("text") or "")[:MAX_COMMENT_CHARS], time=max(t0, float(p["t"])))
               for p in rest]
    # no author profile is known for a pushed or polled post: the model's no-profile combiner applies
    return RumourEvent(None, str(head.get("text") or ""), t0, None, reposts, None)


class StoryRescorer:
    """P(rumour) of a story with its thread, from a ``RumourScorer``'s model (None without one)."""

    def __init__(self, scorer: Any | None) -> None:
        self.model = getattr(scorer, "model", None)

    @property
    def enabled(self) -> bool:
        return self.model is not None

    def score(self, posts: Sequence[dict[str, Any]]) -> float | None:
        if self.model is None or not posts:
            return None
        return float(self.model.predict_proba([story_event(posts)])[0])
