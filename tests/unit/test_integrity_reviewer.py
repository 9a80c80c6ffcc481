"""Reviewer signals on hand-made accounts."""

from trustscope.integrity.detectors import reviewer


def test_new_one_review_account_scores_and_aged_busy_account_does_not():
    assert reviewer.account(0.5, 0).score == 1.0
    assert reviewer.account(400, 25).score == 0.0
    assert reviewer.account(1, 10).score == 0.0  # new account but a real review history
    assert 0 < reviewer.account(10, 1).score < 1
    assert reviewer.account(None, None).score == 0.0
    assert "days old" in reviewer.account(0.5, 0).reason


def test_rapid_posting():
    assert reviewer.rapid(2).score == 0.0
    assert reviewer.rapid(8).score == 1.0
    assert "8 reviews" in reviewer.rapid(8).reason


def test_registration_cohort_needs_count_and_share():
    assert reviewer.cohort(3, 10).score == 0.0
    assert reviewer.cohort(10, 20).score == 1.0
    assert reviewer.cohort(10, 1000).score == 0.0  # 10 of 1000 share a week: normal for a big platform
