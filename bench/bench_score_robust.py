"""What the robust verified score's defences do on their own (detection off), and what they cost.

For the simulator's two generator variants (``tune``: what the score's parameters were chosen on;
``eval``: held out, other account ages, spans, farm sizes and honest-wave shape - the same streams
as the leave-one-family-out evaluation, ``trustscope.integrity.lofo``) it reports:

* per attack family, the largest |shift| of the target's verified score over the seeds when every
  review is counted as verified (30% of the target's reviews injected), robust and plain formula;
* on the honest-only streams, how far the robust score is from the plain one on every platform
  (mean and max), i.e. what re-weighting honest reviews costs;
* for each honest-only stream's genuine surge (an outage: a few days of extra 1-2-star reviews, part
  of them from newcomers), how far and how fast the score follows it: the drop from the day before
  the surge to the day after it, robust vs plain, the ratio, and the day each reaches half of its
  own drop.

No engine runs here (detection off), so it takes about a minute:

    python bench/bench_score_robust.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trustscope.integrity import lofo  # noqa: E402
from trustscope.integrity.score import verified_score  # noqa: E402
from trustscope.integrity.simulator import ALL_ATTACKS, DAY, START, SimConfig, Simulation, simulate  # noqa: E402

VARIANTS = {"tune": (lofo.TUNE_SEEDS, lofo.TUNE_DOMAINS, lofo.TUNE_EXCLUDE),
            "eval": (lofo.EVAL_SEEDS, lofo.EVAL_DOMAINS, ())}


def _items(sim: Simulation, platform: str, until: float | None = None) -> list[dict[str, Any]]:
    return [{"rating": e.rating, "created_at": e.created_at, "author_id": e.author_id,
             "author_created_at": e.author_created_at, "author_review_count": e.author_review_count,
             "verdict": "verified"} for e in sim.events
            if e.platform == platform and (until is None or e.created_at <= until)]


def _score(items: list[dict[str, Any]], now: float, robust: bool) -> float:
    return verified_score(items, now=now, robust=robust).verified_score


def surge(sim: Simulation) -> dict[str, Any]:
    """The honest stream's surge: the platform whose busiest 4 days carry the most volume over its
    median day; its wave days are those above twice that median."""
    best: tuple[float, str, list[int]] | None = None
    days = sim.config.days
    for p in sim.platforms:
        counts = [0] * days
        for e in sim.events:
            if e.platform == p:
                counts[int((e.created_at - START) // DAY)] += 1
        med = max(1.0, statistics.median(counts))
        peak = max(sum(counts[i:i + 4]) for i in range(days - 3)) / (4 * med)
        if best is None or peak > best[0]:
            best = (peak, p, counts)
    assert best is not None
    _, p, counts = best
    med = max(1.0, statistics.median(counts))
    wave = [d for d, c in enumerate(counts) if c > 2 * med]
    first, last = min(wave), max(wave)
    before, after = START + first * DAY, START + (last + 2) * DAY
    row: dict[str, Any] = {"platform": p, "wave_days": [first, last], "volume_x": round(
        sum(counts[first:last + 1]) / ((last - first + 1) * med), 2)}
    for name, robust in (("plain", False), ("robust", True)):
        s0 = _score(_items(sim, p, before), before, robust)
        path = [(d, _score(_items(sim, p, START + d * DAY), START + d * DAY, robust))
                for d in range(first, min(days, last + 3) + 1)]
        drop = s0 - path[-1][1]
        half = next((d for d, s in path if s0 - s >= drop / 2), None) if drop > 0 else None
        row[name] = {"before": round(s0, 3), "after": round(path[-1][1], 3), "drop": round(drop, 3),
                     "half_drop_day": half}
    row["follow"] = round(row["robust"]["drop"] / row["plain"]["drop"], 3) if row["plain"]["drop"] > 0 else None
    return row


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant, (seeds, domains, exclude) in VARIANTS.items():
        shifts: dict[str, dict[str, float]] = {}
        honest_diffs: list[float] = []
        surges = []
        for seed in seeds:
            def sim_of(fam: str | None) -> Simulation:
                return simulate(SimConfig(seed=seed, attacks=(fam,) if fam else (), variant=variant,
                                          domains=domains, exclude_domains=exclude))
            ref = sim_of(None)
            for p in ref.platforms:
                items = _items(ref, p)
                honest_diffs.append(abs(_score(items, ref.end, True) - _score(items, ref.end, False)))
            surges.append({"seed": seed, **surge(ref)})
            for fam in ALL_ATTACKS:
                sim = sim_of(fam)
                target = sim.targets[fam]
                row = shifts.setdefault(fam, {"robust": 0.0, "plain": 0.0})
                for name, robust in (("robust", True), ("plain", False)):
                    d = _score(_items(sim, target), sim.end, robust) - _score(_items(ref, target), ref.end, robust)
                    row[name] = round(max(row[name], abs(d)), 3)
        out[variant] = {"shift_detection_off": shifts,
                        "max_shift_robust": max(r["robust"] for r in shifts.values()),
                        "honest_robust_vs_plain": {"mean": round(statistics.mean(honest_diffs), 3),
                                                   "max": round(max(honest_diffs), 3)},
                        "surges": surges}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    res = run()
    for variant, r in res.items():
        print(f"{variant}: max detection-off shift {r['max_shift_robust']} (robust); honest platforms "
              f"robust-plain mean {r['honest_robust_vs_plain']['mean']} max {r['honest_robust_vs_plain']['max']}")
        for fam, s in r["shift_detection_off"].items():
            print(f"  {fam:<17} robust {s['robust']:.3f}  plain {s['plain']:.3f}")
        for s in r["surges"]:
            print(f"  surge seed {s['seed']} {s['platform']} days {s['wave_days']} x{s['volume_x']}: plain "
                  f"{s['plain']['before']}->{s['plain']['after']} (half on day {s['plain']['half_drop_day']}), "
                  f"robust {s['robust']['before']}->{s['robust']['after']} (half on day "
                  f"{s['robust']['half_drop_day']}), follows {s['follow']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
