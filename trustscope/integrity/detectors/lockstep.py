"""Lockstep groups: accounts that review the same platforms in the same time windows.

In the spirit of CopyCatch (Beutel et al., 2013): an *item* is (platform, 2-day window); every time
an author reviews an item, a counter is bumped for each pair (an item the author reviewed recently,
this item). A pair reached by many distinct authors - and by a large share of the smaller item's
reviewers - is a lockstep group. Camouflage (fraud accounts also writing ordinary reviews elsewhere)
does not dilute it, because the camouflage reviews only create pairs that nobody else shares; the
score looks at the dense pair, not at the account's overall behaviour (the FRAUDAR lesson). A
review is scored by min(score of its item, score of its author), so the camouflage reviews of a
lockstep account are not flagged by this signal, only its reviews on the lockstep items.
"""

from __future__ import annotations

from trustscope.integrity.detectors import Signal, ramp

WINDOW = 2 * 86_400
RECENT_ITEMS = 4  # pairs formed with the author's last few items ...
RECENT_SPAN = 30 * 86_400  # ... within this span


def item_of(platform: str, created_at: float) -> str:
    return f"{platform}@{int(created_at // WINDOW)}"


def pair_score(pair_authors: int, smaller_item_reviews: int) -> float:
    """Score of a pair of items shared by ``pair_authors`` authors."""
    if pair_authors < 3 or smaller_item_reviews <= 0:
        return 0.0
    share = pair_authors / smaller_item_reviews
    return ramp(pair_authors, 3, 8) * ramp(share, 0.05, 0.25)


def score(item_score: float, author_score: float, authors: int = 0) -> Signal:
    s = min(item_score, author_score)
    if s <= 0:
        return Signal("lockstep", 0.0)
    group = f"{authors} accounts" if authors else "a group of accounts"
    return Signal("lockstep", s, f"{group} reviewed the same platforms in the same time windows")
