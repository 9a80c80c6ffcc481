"""Regression: the simulator's evaluation report for a fixed seed on the built-in texts.

The built-in grammar (used when the shared corpus is absent, so this runs on a fresh clone) is much
more repetitive than real reviews, so honest false positives are higher than on the corpus; the
numbers pin the engine's behaviour, and any change to a detector, weight or the simulator shows
here. Update EXPECTED deliberately (print ``{r.attack: (r.tp, r.fp, r.fn) ...}``) when a change is
intended, and re-run ``trustscope integrity evaluate`` for docs/benchmarks.md.
"""

import pytest

from trustscope.integrity.evaluate import evaluate, format_report
from trustscope.integrity.simulator import ATTACKS, SimConfig

# Campaign texts are written from the same pool as honest texts (textpool.paid_script) since the
# paid-review head was added; these numbers changed with that simulator change (no head here), and
# again with the weak-account share (weak_rate: honest newcomers on an attacked platform during the
# attack are flagged too - the extra false positives - issue 13) and copy attribution; the weak-account
# share's local excess (2026-12-01) took 2-4 of those honest newcomers out again, and its weight 5.0
# (suspicious alone) put 2 back in the camouflaged and competitor streams.
EXPECTED = {  # attack: (true positives, honest false positives, false negatives)
    "copy_paste": (87, 19, 0),
    "templated": (87, 19, 0),
    "paraphrased": (86, 21, 1),
    "slow": (87, 19, 0),
    "camouflaged": (266, 20, 1),
    "sleeper": (87, 20, 0),
    "competitor": (87, 32, 0),
}


@pytest.mark.slow
def test_fixed_seed_report_is_stable():
    report = evaluate(seeds=(7,), base=SimConfig(days=30, platforms=5, use_corpus=False))
    got = {r.attack: (r.tp, r.fp, r.fn) for r in report.results}
    assert got == EXPECTED, format_report(report)
    assert report.honest_only_fp == [(19, 1164)]
    rows = {row["attack"]: row for row in report.rows()}
    assert set(rows) == set(ATTACKS) | {"ALL"}
    assert rows["ALL"]["recall"] >= 0.95
    for name in ATTACKS:  # the verified score barely moves while the naive average moves a lot
        assert rows[name]["vs_shift_max"] <= 0.1
        assert rows[name]["naive_shift_mean"] >= 0.3
    assert "honest-only streams" in format_report(report)
