"""Burst detector: baseline, surprise and score on hand-made daily counts."""

from trustscope.integrity.detectors import burst


def test_rating_classes():
    assert burst.rating_class(5) == burst.rating_class(4) == "pos"
    assert burst.rating_class(1) == burst.rating_class(2) == "neg"
    assert burst.rating_class(3) is None and burst.rating_class(None) is None


def test_baseline_needs_history_and_ignores_past_spikes():
    assert burst.baseline([5, 6]) is None
    assert burst.baseline([5, 6, 5, 6, 5]) == 5.0  # the two largest days are dropped
    # a two-day campaign last week does not raise today's baseline
    assert burst.baseline([5, 5, 5, 5, 5, 80, 90]) == 5.0
    assert burst.baseline([0, 0, 0, 0]) == burst.MIN_RATE


def test_surprise_is_zero_below_the_baseline_and_grows_with_the_wave():
    assert burst.surprise(4, 5.0) == 0.0
    assert burst.surprise(20, 5.0) < burst.surprise(40, 5.0)


def test_normal_day_is_not_a_burst_but_a_wave_is():
    assert burst.score(7, 5.0, "pos").score == 0.0
    assert burst.score(12, 10.0, "pos").score == 0.0
    wave = burst.score(60, 5.0, "neg")
    assert wave.score == 1.0
    assert "1-2 star" in wave.reason and "60" in wave.reason
    assert burst.score(60, None, "pos").score == 0.0  # no history: no verdict on bursts
