"""Severity of an alert, 0-100, from volume, velocity, reach, rumour probability and surprise.

    V = log(1 + volume) / log(1 + 1000)            capped at 1
    G = log(1 + posts per minute) / log(1 + 100)   capped at 1 (velocity over the burst window)
    R = log(1 + distinct authors) / log(1 + 500)   capped at 1 (reach)
    P = rumour probability (max over posts) for rumour alerts, share of negative posts otherwise
    S = surprise / 10                              capped at 1 (-log10 of the burst's tail probability)
    severity = 100 * (0.2 V + 0.2 G + 0.2 R + 0.3 P + 0.1 S)

Levels: low < 30 <= medium < 50 <= high < 70 <= critical. Logarithms because the tenth post of a
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


def severity(story: Story, kind: str, surprise: float) -> float:
    prob = story.rumour_max if kind == "rumour" else story.negative_share
    score = (WEIGHTS["volume"] * _log_ratio(story.volume, 1000)
             + WEIGHTS["velocity"] * _log_ratio(story.velocity_per_min, 100)
             + WEIGHTS["reach"] * _log_ratio(story.authors, 500)
             + WEIGHTS["probability"] * min(1.0, max(0.0, prob))
             + WEIGHTS["surprise"] * min(1.0, max(0.0, surprise) / 10.0))
    return round(100.0 * score, 1)


def level(value: float) -> Level:
    for floor, name in LEVELS:
        if value >= floor:
            return name
    return "low"
