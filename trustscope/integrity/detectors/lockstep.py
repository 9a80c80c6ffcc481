"""Lockstep groups: accounts that review the same platforms in the same time windows.

In the spirit of CopyCatch (Beutel et al., 2013): an *item* is (platform, 3-day window). When an
author writes a polar review (1-2 or 4-5 stars) of an item, a counter is bumped for each pair (an
item of one of the author's recent polar reviews, within 30 days, this item). A pair reached by many authors who are a large share of the smaller
item's reviewers is *dense*. Windows are laid on two grids offset by half a window, so a campaign
round of up to 1.5 days always falls inside one window of one grid (a single grid would split it
across a window boundary and halve its counts). Camouflage
(fraud accounts also writing ordinary reviews elsewhere) does not dilute a dense pair, because the
camouflage reviews only create pairs that nobody else shares. As in FRAUDAR, an account is judged by
how much of the dense structure it belongs to, not by its overall behaviour: its evidence is the
number of distinct dense pairs it is in, absolute and relative to its number of reviews (an honest
heavy reviewer who happened to review campaign targets shares a few among dozens of reviews; a
campaign account shares several per round). A review is scored by
min(its item's best dense-pair score, its author's score), so the camouflage
reviews of a lockstep account are not flagged by this signal - only its reviews on lockstep items.
"""

from __future__ import annotations

from trustscope.integrity.detectors import Signal, ramp

WINDOW = 3 * 86_400
GRIDS = (0, 1)
RECENT_ITEMS = 3  # pairs formed with the author's last few items ...
DENSE = 0.5  # a pair scoring at least this counts for its member authors
MIN_PAIR_AUTHORS = 5  # a pair reached by fewer authors scores 0, whatever the item's size
RECENT_SPAN = 30 * 86_400  # ... within this span


def window_of(created_at: float, grid: int = 0) -> int:
    return int((created_at + grid * WINDOW / 2) // WINDOW)


def item_name(platform: str, grid: int, window: int) -> str:
    """The lockstep item of a platform's window on one grid (``window_of_item`` reads it back)."""
    return f"{platform}@{grid}:{window}"


def item_of(platform: str, created_at: float, grid: int = 0) -> str:
    return item_name(platform, grid, window_of(created_at, grid))


def window_of_item(item: str) -> int:
    return int(item.rsplit(":", 1)[1])


def pair_score(pair_authors: int, item_reviews: int) -> float:
    """Score of a pair reached by ``pair_authors`` of the item's ``item_reviews`` reviewers."""
    if pair_authors < MIN_PAIR_AUTHORS or item_reviews <= 0:
        return 0.0
    share = pair_authors / item_reviews
    return ramp(pair_authors, 5, 12) * ramp(share, 0.1, 0.3)


def author_score(dense_pairs: int, reviews: int) -> float:
    """How much of an author's activity is lockstep: dense pairs, absolute and per review."""
    if dense_pairs <= 0:
        return 0.0
    return ramp(dense_pairs, 2, 6) * ramp(dense_pairs / max(1, reviews), 0.15, 0.4)


def score(item_score: float, author: float) -> Signal:
    """Evidence for one review from its item's pair score and its author's lockstep score."""
    s = min(item_score, author)
    if s <= 0:
        return Signal("lockstep", 0.0)
    return Signal("lockstep", s, "author belongs to a group of accounts that reviewed the same platforms "
                                 "in the same time windows")
