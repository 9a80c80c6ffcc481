"""Paid / templated text: the learned head on the sentiment BERT (``paid_head``), as one signal.

The head reads style (promotional superlatives, calls to action, referral codes, template slots),
which honest reviewers also use now and then ("五星好评" is common in real shopping reviews), so
its weight is modest (combiner.py): it never makes a review suspicious alone, and it needs other
evidence - a new account plus a second weak signal, or a small near-duplicate cluster - to tip a
verdict. Scores ramp from the head's operating threshold (chosen on validation seeds) to certainty.
A missing probability (no head shipped, or no text) is a zero signal, not an error.
"""

from __future__ import annotations

from trustscope.integrity.detectors import Signal, ramp

THRESHOLD = 0.5  # the head's default operating point; a loaded head file may set its own
HIGH = 0.95


def score(prob: float | None, threshold: float = THRESHOLD, high: float = HIGH) -> Signal:
    if prob is None:
        return Signal("paid_text", 0.0)
    s = ramp(prob, threshold, max(high, threshold + 0.01))
    if s <= 0:
        return Signal("paid_text", 0.0)
    return Signal("paid_text", s, f"the text reads like a paid or templated review (p={prob:.2f})")
