"""Verdict combiner: documented thresholds, weak signals never convict alone, reasons ordered."""

import pytest

from trustscope.integrity import combiner
from trustscope.integrity.detectors import Signal


def _verdict(**scores):
    return combiner.combine([Signal(k, v, f"{k} text") for k, v in scores.items()])


@pytest.mark.parametrize("name", ["burst", "new_account", "rapid_posting", "rating_text_mismatch"])
def test_a_weak_signal_alone_leaves_a_review_verified(name):
    assert _verdict(**{name: 1.0})[0] == "verified"


def test_strong_text_evidence_convicts_and_pairs_of_signals_flag():
    assert _verdict(near_duplicate=1.0)[0] == "fake"
    assert _verdict(near_duplicate=0.5, new_account=1.0)[0] in ("suspicious", "fake")
    assert _verdict(lockstep=1.0)[0] == "suspicious"
    assert _verdict(lockstep=1.0, burst=1.0)[0] == "fake"
    assert _verdict(registration_cohort=1.0, burst=1.0)[0] in ("suspicious", "fake")


def test_thresholds_and_probability():
    verdict, prob, reasons, scores = _verdict()
    assert verdict == "verified" and prob < combiner.SUSPICIOUS and reasons == [] and scores == {}
    assert combiner.FAKE > combiner.SUSPICIOUS
    _, prob, _, _ = _verdict(near_duplicate=1.0)
    assert prob >= combiner.FAKE


def test_reasons_are_ordered_by_contribution_and_have_stable_codes():
    _, _, reasons, scores = _verdict(burst=1.0, near_duplicate=1.0, new_account=0.1)
    assert [combiner.reason_code(r) for r in reasons] == ["near_duplicate", "burst"]
    assert scores["new_account"] == 0.1
    assert reasons[0] == "near_duplicate: near_duplicate text"


def test_group_evidence_alone_is_suspicious_not_fake():
    # a weak-account wave member (>= 85% of its days' weak reviews surplus) and a serial copier
    for name in ("weak_rate", "serial_copier"):
        assert _verdict(**{name: 1.0})[0] == "suspicious"
        assert _verdict(**{name: 0.5})[0] == "verified"
    assert _verdict(weak_rate=1.0, new_account=1.0)[0] == "fake"
    assert _verdict(serial_copier=1.0, copied_text=1.0)[0] == "fake"
