"""Reviewer signals: brand-new or one-review accounts, rapid-fire reviewing, registration cohorts.

* ``account``: an account created days before the review with (almost) no review history. Honest
  newcomers exist, so this is weak on its own and only tips the balance with other evidence.
* ``rapid``: one author posting many reviews within 24 hours.
* ``cohort``: among the *aged* accounts (>= ``AGED_DAYS`` old) reviewing a platform in a window,
  many were registered in the same week - the fingerprint of sleeper accounts bought in bulk.
  Honest registrations spread over years; newcomers are left to ``account``.
"""

from __future__ import annotations

from trustscope.integrity.detectors import Signal, ramp

AGED_DAYS = 30.0
COHORT_WEEK = 7 * 86_400


def account(age_days: float | None, prior_reviews: int | None) -> Signal:
    """Evidence from the account's age at review time and the reviews it had before."""
    if age_days is None and prior_reviews is None:
        return Signal("new_account", 0.0)
    young = 1.0 - ramp(age_days, 2.0, 30.0) if age_days is not None else 0.5
    fresh = 1.0 - ramp(prior_reviews, 1, 4) if prior_reviews is not None else 0.5
    s = young * fresh
    if s < 0.05:
        return Signal("new_account", 0.0)
    age = f"{age_days:.0f} days old" if age_days is not None else "of unknown age"
    prior = f"{prior_reviews} earlier reviews" if prior_reviews is not None else "unknown history"
    return Signal("new_account", s, f"account {age} with {prior}")


def rapid(reviews_24h: int) -> Signal:
    """Evidence from how many reviews the author posted in the 24 hours up to this one."""
    s = ramp(reviews_24h, 3, 8)
    if s <= 0:
        return Signal("rapid_posting", 0.0)
    return Signal("rapid_posting", s, f"author posted {reviews_24h} reviews within 24 hours")


def cohort(same_week: int, window_reviews: int) -> Signal:
    """Evidence from how many aged reviewers of this platform-window registered in the same week."""
    if same_week < 4 or window_reviews <= 0:
        return Signal("registration_cohort", 0.0)
    share = same_week / window_reviews
    s = ramp(same_week, 4, 10) * ramp(share, 0.05, 0.2)
    if s <= 0:
        return Signal("registration_cohort", 0.0)
    return Signal("registration_cohort", s,
                  f"{same_week} of {window_reviews} reviewers in this window registered in the same week")
