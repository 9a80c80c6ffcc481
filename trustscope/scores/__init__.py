"""Maintained verified scores: per-platform sums kept in Redis as verdicts arrive and are revised.

Why maintained and not scanned: a widget on a busy home page must not scan a platform's reviews on a
cache miss. The indexer applies each document's contribution (``contribution.py``) to its platforms'
sums atomically and idempotently (``store.py``); a read is one HGETALL and is exact. ``rebuild.py``
recomputes the same state from Elasticsearch; ``view.py`` turns sums into what the API shows,
withholding the score below ``score_min_verified`` verified reviews.
"""

from trustscope.scores.contribution import Contribution, contribution_of
from trustscope.scores.store import ScoreStore
from trustscope.scores.view import ScoreView, score_view

__all__ = ["Contribution", "ScoreStore", "ScoreView", "contribution_of", "score_view"]
