"""Severity of an alert, 0-100, from volume, velocity, reach, rumour probability and surprise.

    V = log(1 + volume) / log(1 + 1000)            capped at 1
    G = log(1 + posts per minute) / log(1 + 100)   capped at 1 (velocity over the burst window)
    R = log(1 + distinct authors) / log(1 + 500)   capped at 1 (reach)
    P = the story's rumour probability (``Story.rumour_prob``: the model's score of the story with its
        thread, or the highest lexicon score) for rumour alerts, share of negative posts otherwise
    S = surprise / 10                              capped at 1 (-log10 of the burst's tail probability)
    severity = 100 * (0.2 V + 0.2 G + 0.2 R + 0.3 P + 0.1 S)

An early warning (``phase == "early"``: opened on the rumour model before the story is a burst) is
capped at ``AlertConfig.early_max_severity`` (49, "medium"): one post is thin evidence, however sure
the model is. Levels: low < 30 <= medium < 50 <= high < 70 <= critical. Logarithms because the tenth post of a
story says much more than the thousand-and-tenth.
"""

from __future__ import annotations

import math

from trustscope.alerts.models import Level, Story

WEIGHTS = {"volume": 0.2, "velocity": 0.2, "reach": 0.2, "probability": 0.3, "surprise": 0.1}
LEVELS: list[tuple[float, Level]] = [(70.0, "critical"), (50.0, "high"), (30.0, "medium"), (0.0, "low")]
LEVEL_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _log_ratio(x: float, full: float) -> float:
    return min(1.0, math.log1p(max(0.0, x)) / math.log1p(full))


def severity(story: Story, kind: str, surprise: float, cap: float | None = None) -> float:
    prob = story.rumour_prob if kind == "rumour" else story.negative_share
    score = (WEIGHTS["volume"] * _log_ratio(story.volume, 1000)
             + WEIGHTS["velocity"] * _log_ratio(story.velocity_per_min, 100)
             + WEIGHTS["reach"] * _log_ratio(story.authors, 500)
             + WEIGHTS["probability"] * min(1.0, max(0.0, prob))
             + WEIGHTS["surprise"] * min(1.0, max(0.0, surprise) / 10.0))
    value = round(100.0 * score, 1)
    return value if cap is None else min(value, cap)


def level(value: float) -> Level:
    for floor, name in LEVELS:
        if value >= floor:
            return name
    return "low"
