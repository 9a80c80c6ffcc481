"""Rating-text mismatch: 4-5 stars on clearly negative text, or 1-2 stars on clearly positive text.

``prob_positive`` comes from the Chinese sentiment model. Only confident disagreements count
(the model's calibrated probability beyond ``CONFIDENT``), since honest reviewers do sometimes
write "not bad" with one star; it is one signal, never a verdict alone.
"""

from __future__ import annotations

from trustscope.integrity.detectors import Signal, ramp

CONFIDENT = 0.8


def score(rating: int | None, prob_positive: float | None) -> Signal:
    if rating is None or prob_positive is None:
        return Signal("rating_text_mismatch", 0.0)
    if rating >= 4:
        s = ramp(1.0 - prob_positive, CONFIDENT, 0.97)
        what = f"{rating} stars but the text reads negative (p_pos={prob_positive:.2f})"
    elif rating <= 2:
        s = ramp(prob_positive, CONFIDENT, 0.97)
        what = f"{rating} star{'s' if rating > 1 else ''} but the text reads positive (p_pos={prob_positive:.2f})"
    else:
        return Signal("rating_text_mismatch", 0.0)
    if s <= 0:
        return Signal("rating_text_mismatch", 0.0)
    return Signal("rating_text_mismatch", s, what)
