"""The verdict: signals -> fake probability -> verified | suspicious | fake, with reasons.

A logistic combination with hand-set, documented weights (docs/integrity.md), tuned on the
simulator's *training* seeds and reported on held-out seeds:

    logit = BIAS + sum_i WEIGHTS[i] * score_i ;  fake_prob = 1 / (1 + e^-logit)

Weights are chosen so that no weak signal convicts alone (a burst, a new account or a single
rating-text mismatch leaves a review verified or at most suspicious), while strong text evidence or
two independent signals together do. Thresholds: fake_prob >= FAKE -> fake, >= SUSPICIOUS ->
suspicious, else verified. Reasons are listed by contribution, each as ``code: text``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from trustscope.integrity.detectors import Signal

BIAS = -4.0
WEIGHTS: dict[str, float] = {
    "near_duplicate": 6.0,
    "burst": 1.8,
    "new_account": 2.0,
    "rapid_posting": 2.0,
    "registration_cohort": 3.5,
    "lockstep": 4.5,
    "rating_text_mismatch": 1.5,
    "paid_text": 1.5,  # the learned head: never alone, nor with one other weak signal (docs/integrity.md)
    "copied_text": 5.0,  # repeats an earlier review of another author: suspicious alone, fake with more
    # weak accounts' share far above the platform's history, at full strength when >= 85% of the weak
    # reviews of the review's own days are surplus (weak_rate.EXCESS_HI): suspicious alone, like a
    # lockstep member (-4 + 5 = +1 -> 0.73), fake with one more signal
    "weak_rate": 5.0,
    "serial_copier": 4.5,  # the author keeps copying others' earlier reviews: suspicious alone, like lockstep
}
FAKE = 0.8
SUSPICIOUS = 0.5
REASON_MIN = 0.15  # signals below this score are not listed as reasons


def combine(signals: Iterable[Signal]) -> tuple[str, float, list[str], dict[str, float]]:
    """(verdict, fake_prob, reasons, {signal: score}) for one review."""
    logit = BIAS
    contrib: list[tuple[float, Signal]] = []
    scores: dict[str, float] = {}
    for sig in signals:
        scores[sig.name] = round(sig.score, 4)
        c = WEIGHTS.get(sig.name, 0.0) * sig.score
        logit += c
        if sig.score >= REASON_MIN and sig.reason:
            contrib.append((c, sig))
    prob = 1.0 / (1.0 + math.exp(-logit))
    verdict = "fake" if prob >= FAKE else "suspicious" if prob >= SUSPICIOUS else "verified"
    contrib.sort(key=lambda cs: -cs[0])
    reasons = [f"{s.name}: {s.reason}" for _, s in contrib]
    return verdict, round(prob, 4), reasons, scores


def reason_code(reason: str) -> str:
    """The stable code of a reason string (the part before the colon)."""
    return reason.split(":", 1)[0].strip()
