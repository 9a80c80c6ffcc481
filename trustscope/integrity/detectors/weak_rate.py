"""Rate-aware bursts of weak accounts: a platform's share of reviews from young, one-review accounts
against that platform's own history, with the uncertainty of a beta-binomial model.

Why: a campaign of real-looking texts by fresh accounts, spread over one to three weeks, has no
copies, no marks and no single-day spike, so each review alone looks honest. What it cannot hide
is that, for a while, far more of the platform's 4-5-star (or 1-2-star) reviews come from *weak*
accounts (younger than ``WEAK_AGE_DAYS`` with at most ``WEAK_PRIOR`` earlier reviews) than
usual. The share, not the count, is tested: when an outage makes everybody complain, aged users
complain too, so the weak share of 1-2-star reviews rises far less than their count.

Model, per platform and rating class: history = the ``HISTORY_DAYS`` days that end ``GAP_DAYS``
before the review's window, less the tenth of those days with the highest weak share
(``history``); the weak share ``p ~ Beta(A0 + w_hist, B0 + n_hist - w_hist)`` (prior
worth 4 reviews, mean 0.25); window = the review's day +- ``HALF_WINDOW`` days (later days revise
earlier verdicts). The tail ``P(W >= w)`` of the beta-binomial predictive for the window's ``n``
reviews gives the surprise ``-log10 P``; the score is ``ramp(surprise, 2, 5) * ramp(lift, 1.5, 2.5)``
with ``lift`` = window share / expected share, so a large platform cannot be flagged for a
statistically sure but small rise, times ``1 - ramp(established lift, 1.3, 2.0)``: when the
established accounts' own daily volume is up too, the wave is organic (see ``strength``). Only
weak reviews receive the signal.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.stats import betabinom

from trustscope.integrity.detectors import Signal, ramp

WEAK_AGE_DAYS = 60.0
WEAK_PRIOR = 2
HALF_WINDOW = 6
GAP_DAYS = 8  # history ends two weeks before the day: a campaign of up to ~2 weeks stays out of it
HISTORY_DAYS = 42
TRIM_SHARE = 0.1  # history days with the highest weak share dropped (a past campaign is not "usual")
A0, B0 = 1.0, 3.0
MIN_WINDOW = 10
MIN_WEAK = 8
P_LO, P_HI = 2.0, 5.0
LIFT_LO, LIFT_HI = 1.5, 2.5
ORGANIC_LO, ORGANIC_HI = 1.3, 2.0  # established accounts' volume lift that marks an organic surge
LOCAL_DAYS = 1  # the review's own day +- this many days: how much of *its* weak traffic is excess
EXCESS_LO, EXCESS_HI = 0.25, 0.85  # share of the local weak reviews above what history expects


def betabinom_sf(k: int, n: int, a: float, b: float) -> float:
    """``scipy.stats.betabinom.sf(k, n, a, b)``, computed by the same steps scipy takes (``1 -`` the
    sum of ``betabinom._pmf`` over ``0..k`` as float64, clipped to [0, 1]) without its generic
    argument handling, which was ~60% of the call (docs/benchmarks.md, "Integrity, fourth session").
    Bit-identical to scipy's result (unit test over the arguments this module passes)."""
    if k < 0:
        return 1.0
    if k >= n:
        return 0.0
    cdf = np.sum(betabinom._pmf(np.arange(0, np.float64(k) + 1), np.int64(n), np.float64(a), np.float64(b)),
                 axis=0)
    return float(min(max(1.0 - cdf, 0.0), 1.0))


def is_weak(age_days: float | None, prior: int | None) -> bool:
    return age_days is not None and age_days < WEAK_AGE_DAYS and (prior or 0) <= WEAK_PRIOR


def history(day_counts: list[tuple[int, int]]) -> tuple[int, int, int]:
    """(weak, all, days kept) over history days after dropping the ``TRIM_SHARE`` days of highest
    weak share, so the first days of a two-to-three-week campaign do not become the baseline of
    its last days."""
    # (share, position) sorts as a stable sort by share would: ties keep the days' order
    days = sorted((c[0] / c[1], i) for i, c in enumerate(day_counts) if c[1] > 0)
    kept = days[: len(days) - int(len(days) * TRIM_SHARE + 0.999)] if len(days) >= 4 else days
    weak = total = 0
    for _, i in kept:
        w, n = day_counts[i]
        weak += w
        total += n
    return weak, total, len(kept)


def window_days(day: int) -> range:
    return range(day - HALF_WINDOW, day + HALF_WINDOW + 1)


def history_days(day: int) -> range:
    end = day - HALF_WINDOW - GAP_DAYS
    return range(end - HISTORY_DAYS, end)


def local_days(day: int) -> range:
    return range(day - LOCAL_DAYS, day + LOCAL_DAYS + 1)


def excess_share(w_loc: int, n_loc: int, w_hist: int, n_hist: int) -> float:
    """Share of the weak reviews of the review's own days that the platform's history does not
    explain: ``1 - expected / w_loc`` with ``expected`` = the established reviews of those days
    times the historical odds of a weak review (``E[p] / (1 - E[p])``).

    Why: the wide window says *whether* there is a wave; this says how likely one weak review of
    these days is part of it (the posterior share of the excess). Honest newcomers keep arriving
    at the platform's usual rate during a wave - they are the ``expected`` part - and days just
    outside the wave, which the wide window still covers, have no excess at all, so their honest
    newcomers get no signal."""
    if w_loc <= 0:
        return 0.0
    a, b = A0 + w_hist, B0 + max(0, n_hist - w_hist)
    p = a / (a + b)
    expected = (n_loc - w_loc) * p / (1.0 - p)
    return max(0.0, 1.0 - expected / w_loc)


@lru_cache(maxsize=65_536)
def strength(w_win: int, n_win: int, w_hist: int, n_hist: int, hist_days: int = 0,
             w_loc: int | None = None, n_loc: int | None = None) -> tuple[float, float, float]:
    """(score, surprise in -log10 P, lift) of a window's weak count against its history; with the
    review's own days' counts (``w_loc``, ``n_loc``) the score is also scaled by
    ``ramp(excess_share, EXCESS_LO, EXCESS_HI)``.

    An organic surge lifts the *established* accounts' volume too (an outage: everybody complains,
    and newcomers sign up to complain); a campaign of fresh accounts does not. So the score is
    damped by ``1 - ramp(established lift, ORGANIC_LO, ORGANIC_HI)``, the established accounts'
    daily volume in the window against their history's (when ``hist_days`` is known)."""
    if n_win < MIN_WINDOW or w_win < MIN_WEAK:
        return 0.0, 0.0, 0.0
    a, b = A0 + w_hist, B0 + max(0, n_hist - w_hist)
    expected = a / (a + b)
    lift = (w_win / n_win) / expected
    if lift < LIFT_LO:
        return 0.0, 0.0, lift
    tail = betabinom_sf(w_win - 1, n_win, a, b)
    surprise = -math.log10(max(tail, 1e-300))
    s = ramp(surprise, P_LO, P_HI) * ramp(lift, LIFT_LO, LIFT_HI)
    if hist_days > 0 and n_hist > w_hist:
        est_lift = ((n_win - w_win) / (2 * HALF_WINDOW + 1)) / ((n_hist - w_hist) / hist_days)
        s *= 1.0 - ramp(est_lift, ORGANIC_LO, ORGANIC_HI)
    if w_loc is not None and n_loc is not None and s > 0:
        s *= ramp(excess_share(w_loc, n_loc, w_hist, n_hist), EXCESS_LO, EXCESS_HI)
    return s, surprise, lift


def score(weak: bool, w_win: int, n_win: int, w_hist: int, n_hist: int, hist_days: int, rclass: str,
          w_loc: int | None = None, n_loc: int | None = None) -> Signal:
    if not weak:
        return Signal("weak_rate", 0.0)
    s, surprise, lift = strength(w_win, n_win, w_hist, n_hist, hist_days, w_loc, n_loc)
    if s <= 0:
        return Signal("weak_rate", 0.0)
    stars = "4-5-star" if rclass == "pos" else "1-2-star"
    return Signal("weak_rate", s, f"{w_win} of {n_win} {stars} reviews of this platform around this day come from "
                                  f"new or one-review accounts, {lift:.1f}x its usual share (P={10 ** -surprise:.0e})")
