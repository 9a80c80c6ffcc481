"""Rating-text mismatch on hand-made cases."""

from trustscope.integrity.detectors import mismatch


def test_five_stars_on_negative_text_and_reverse():
    assert mismatch.score(5, 0.02).score == 1.0
    assert mismatch.score(1, 0.99).score == 1.0
    assert "reads negative" in mismatch.score(5, 0.02).reason


def test_consistent_uncertain_or_unknown_is_no_evidence():
    assert mismatch.score(5, 0.95).score == 0.0
    assert mismatch.score(1, 0.05).score == 0.0
    assert mismatch.score(5, 0.4).score == 0.0  # not confident
    assert mismatch.score(3, 0.01).score == 0.0
    assert mismatch.score(None, 0.01).score == 0.0
    assert mismatch.score(5, None).score == 0.0
