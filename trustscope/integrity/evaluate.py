"""Evaluation on simulated streams: per-attack precision/recall/F1, honest false positives, score shift.

For each seed: one honest-only stream (the reference) and, for each attack, the same honest stream
with that attack injected (``inject_share`` of the target's reviews). Each stream goes through a
fresh engine in batches, as the service would see it; the verdicts scored are the *latest
revisions* once the stream is over (what the index holds). "Flagged" means not ``verified``
(suspicious or fake: both are left out of the verified score); the share called ``fake`` is
reported too. Per attack: precision = attack reviews flagged / all flagged in that stream (honest
flagged are the false positives; ``cover`` reviews of camouflaged accounts count neither way),
recall = attack reviews flagged / attack reviews. Score shift on the target platform: verified
score (and naive average) of the attacked stream minus that of the honest-only stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from trustscope.integrity.engine import IntegrityEngine
from trustscope.integrity.models import VerdictUpdate
from trustscope.integrity.score import verified_score
from trustscope.integrity.simulator import ATTACKS, SimConfig, Simulation, simulate

TRAIN_SEEDS = (1, 2, 3)
HELDOUT_SEEDS = (101, 102, 103)


def run_stream(sim: Simulation, engine: IntegrityEngine | None = None, batch_size: int = 64
               ) -> dict[str, VerdictUpdate]:
    """Feed the stream in time order; returns the latest verdict per review id."""
    engine = engine or IntegrityEngine.in_memory()
    latest: dict[str, VerdictUpdate] = {}
    ev = sim.events
    for i in range(0, len(ev), batch_size):
        for u in engine.process(ev[i:i + batch_size]):
            latest[u.id] = u
    return latest


def _platform_score(sim: Simulation, verdicts: dict[str, VerdictUpdate], platform: str):
    items = [{"rating": e.rating, "created_at": e.created_at, "verdict": verdicts[e.id].verdict,
              "reasons": verdicts[e.id].reasons, "author_id": e.author_id,
              "author_created_at": e.author_created_at, "author_review_count": e.author_review_count}
             for e in sim.events if e.platform == platform]
    return verified_score(items, now=sim.end)


@dataclass
class AttackResult:
    attack: str
    seed: int
    n_attack: int
    tp: int
    fp: int
    fn: int
    fake: int
    honest: int
    honest_flagged: int
    vs_shift: float
    naive_shift: float

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    seeds: tuple[int, ...]
    results: list[AttackResult] = field(default_factory=list)
    honest_only_fp: list[tuple[int, int]] = field(default_factory=list)  # (flagged, total)
    text_source: str = ""
    reviews: int = 0
    seconds: float = 0.0

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for name in list(dict.fromkeys(r.attack for r in self.results)):
            rs = [r for r in self.results if r.attack == name]
            out.append(_row(name, rs))
        out.append(_row("ALL", self.results))
        return out

    def to_dict(self) -> dict[str, Any]:
        fl = sum(f for f, _ in self.honest_only_fp)
        tot = sum(t for _, t in self.honest_only_fp)
        return {"seeds": list(self.seeds), "text_source": self.text_source, "rows": self.rows(),
                "honest_only_fpr": round(fl / tot, 5) if tot else 0.0, "reviews": self.reviews,
                "seconds": round(self.seconds, 1)}


def _row(name: str, rs: list[AttackResult]) -> dict[str, Any]:
    tp, fp, fn = sum(r.tp for r in rs), sum(r.fp for r in rs), sum(r.fn for r in rs)
    p = tp / (tp + fp) if tp + fp else 1.0
    rc = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    hon = sum(r.honest for r in rs)
    hf = sum(r.honest_flagged for r in rs)
    return {
        "attack": name, "attack_reviews": sum(r.n_attack for r in rs), "precision": round(p, 4),
        "recall": round(rc, 4), "f1": round(f1, 4),
        "fake_share": round(sum(r.fake for r in rs) / max(1, sum(r.n_attack for r in rs)), 4),
        "honest_fpr": round(hf / hon, 5) if hon else 0.0,
        "vs_shift_max": round(max(abs(r.vs_shift) for r in rs), 3),
        "naive_shift_mean": round(sum(abs(r.naive_shift) for r in rs) / len(rs), 3),
    }


def evaluate(seeds: tuple[int, ...] = HELDOUT_SEEDS, attacks: tuple[str, ...] = ATTACKS,
             base: SimConfig | None = None, progress: Any = None, paid: Any = None,
             paid_threshold: float | None = None) -> Report:
    """``paid``: text -> paid-review head probability (``paid_head.PaidHead``), or None to run
    without the head (the regression test, and the "before" numbers)."""
    base = base or SimConfig()
    kw: dict[str, Any] = {}
    if paid is not None:
        kw = {"paid": paid, "paid_threshold": paid_threshold if paid_threshold is not None else 0.5}
    make = lambda: IntegrityEngine.in_memory(**kw)
    report = Report(seeds=tuple(seeds))
    t0 = time.perf_counter()
    for seed in seeds:
        cfg = SimConfig(**{**base.__dict__, "seed": seed, "attacks": ()})
        ref = simulate(cfg)
        report.text_source = ref.text_source
        ref_v = run_stream(ref, make())
        report.reviews += len(ref.events)
        flagged = sum(1 for u in ref_v.values() if u.verdict != "verified")
        report.honest_only_fp.append((flagged, len(ref.events)))
        for name in attacks:
            sim = simulate(SimConfig(**{**cfg.__dict__, "attacks": (name,)}))
            v = run_stream(sim, make())
            report.reviews += len(sim.events)
            tp = fp = fn = fake = honest = 0
            for e in sim.events:
                label = sim.labels[e.id]
                flag = v[e.id].verdict != "verified"
                if label == "honest":
                    honest += 1
                    fp += flag
                elif label == name:
                    tp += flag
                    fn += not flag
                    fake += v[e.id].verdict == "fake"
            target = sim.targets[name]
            a = _platform_score(sim, v, target)
            b = _platform_score(ref, ref_v, target)
            report.results.append(AttackResult(
                name, seed, tp + fn, tp, fp, fn, fake, honest, fp,
                a.verified_score - b.verified_score, (a.raw_average or 0) - (b.raw_average or 0)))
            if progress:
                progress(report.results[-1])
    report.seconds = time.perf_counter() - t0
    return report


def format_report(report: Report) -> str:
    d = report.to_dict()
    lines = [(f"seeds {d['seeds']}  texts: {d['text_source']}  reviews judged: {d['reviews']}  "
              f"({d['seconds']} s)"),
             (f"{'attack':<13}{'n':>6}{'prec':>8}{'recall':>8}{'F1':>8}{'fake%':>7}{'honestFP':>10}"
              f"{'|dVS|max':>10}{'|dNaive|':>10}")]
    for r in d["rows"]:
        lines.append(f"{r['attack']:<13}{r['attack_reviews']:>6}{r['precision']:>8.3f}{r['recall']:>8.3f}"
                     f"{r['f1']:>8.3f}{100 * r['fake_share']:>7.1f}{100 * r['honest_fpr']:>9.2f}%"
                     f"{r['vs_shift_max']:>10.3f}{r['naive_shift_mean']:>10.3f}")
    lines.append(f"honest-only streams: {100 * d['honest_only_fpr']:.2f}% of honest reviews flagged")
    return "\n".join(lines)
