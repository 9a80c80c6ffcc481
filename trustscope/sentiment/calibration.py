"""The neutral band: probabilities of "positive" close enough to 0.5 that the model is unsure.

Fitted on validation data (never the reported test set): a symmetric band around 0.5 covering the
least confident texts for as long as the model's local accuracy there stays below ``target`` —
i.e. where a label is closer to a coin flip than to the model's usual reliability — capped so
that at most ``max_fraction`` of texts become neutral. Stored as ``calibration.json`` beside the
model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

CALIBRATION_FILE = "calibration.json"


@dataclass
class NeutralBand:
    low: float = 0.35
    high: float = 0.65
    method: str = "default (no calibration file)"
    target_accuracy: float | None = None
    val_size: int | None = None
    val_neutral_fraction: float | None = None
    val_accuracy_inside: float | None = None
    val_accuracy_outside: float | None = None

    def label(self, prob_positive: float) -> str:
        if self.low <= prob_positive <= self.high:
            return "neutral"
        return "positive" if prob_positive > self.high else "negative"


def fit_neutral_band(prob_pos: Sequence[float], labels: Sequence[int], target: float = 0.75,
                     max_fraction: float = 0.10, min_half_width: float = 0.05) -> NeutralBand:
    """Choose half-width ``w`` (band [0.5-w, 0.5+w]) as described in the module docstring.

    Texts are sorted by confidence |p - 0.5|; the band edge is the first point where the accuracy
    of the next ``window`` texts reaches ``target`` (a local, not cumulative, accuracy, so a few
    coin flips at the bottom do not drag confident texts into the band).
    """
    n = len(prob_pos)
    if n == 0:
        raise ValueError("no validation predictions to calibrate on")
    conf = sorted((abs(p - 0.5), int((p > 0.5) == bool(y))) for p, y in zip(prob_pos, labels))
    window = max(20, n // 50)
    limit = max(1, int(n * max_fraction))
    k = 0
    while k < limit and k + window <= n:
        if sum(ok for _, ok in conf[k:k + window]) / window >= target:
            break
        k += 1
    w = conf[k - 1][0] if k else 0.0
    w = min(max(min_half_width, w), 0.49)
    inside = [ok for c, ok in conf if c <= w]
    outside = [ok for c, ok in conf if c > w]
    return NeutralBand(
        low=round(0.5 - w, 4), high=round(0.5 + w, 4),
        method=f"least-confident validation texts while the accuracy of the next {window} stays below "
               f"{target:.0%}; at most {max_fraction:.0%} of texts; half-width at least {min_half_width}",
        target_accuracy=target, val_size=n, val_neutral_fraction=len(inside) / max(1, n),
        val_accuracy_inside=sum(inside) / len(inside) if inside else None,
        val_accuracy_outside=sum(outside) / len(outside) if outside else None,
    )


def save_band(band: NeutralBand, model_dir: str | Path) -> None:
    Path(model_dir, CALIBRATION_FILE).write_text(json.dumps(asdict(band), indent=2) + "\n")


def load_band(model_dir: str | Path) -> NeutralBand:
    """The stored band, or the default band when the directory has no (valid) calibration file."""
    path = Path(model_dir, CALIBRATION_FILE)
    if not path.exists():
        return NeutralBand()
    data = json.loads(path.read_text())
    band = NeutralBand(**{k: v for k, v in data.items() if k in NeutralBand.__dataclass_fields__})
    if not 0.0 <= band.low <= band.high <= 1.0:
        raise ValueError(f"{path}: invalid neutral band {band.low}..{band.high}")
    return band
