"""Leave-one-family-out evaluation: every attack family judged by a combination tuned without it.

Why: the per-attack report (``evaluate``) tunes and measures on the same simulator, so every
family it reports was seen while the weights were set - it cannot tell how the engine does on a
campaign style nobody simulated. Here, for each family F:

* *tuning data*: streams of the ``tune`` generator variant (``simulator.GEN_PARAMS``) with texts
  from the corpus' shopping domains, seeds ``TUNE_SEEDS``, one stream per family *other than F*
  plus honest-only streams (the category shopping/水果 left out);
* *combination*: the combiner's form (``logit = b + sum w_i score_i``) with weights and bias fitted
  by class-balanced logistic regression on those streams' signals (non-negative weights, a prior
  centred on the hand-set weights), and the flag threshold set so that at most ``TARGET_FPR`` of
  the tuning streams' honest reviews are flagged;
* *evaluation data*: streams of the ``eval`` variant (other account ages, spans, farm sizes,
  wave shape, copy mix), texts from domains no weight was tuned on (``food_delivery`` and the
  held-out shopping category ``水果``: food_delivery alone has too few positive texts, a stream
  would repeat them and honest repeats would read as copies), other
  seeds (``EVAL_SEEDS``), with F injected (30% of the target's reviews).

Reported per held-out family: precision, recall and F1 (honest reviews flagged anywhere in the
stream are its false positives), the share of honest reviews flagged, and how far the target's
verified score moves against the honest-only stream of the same seed, with the tuned detection and
with detection off (every review verified: only the score's own defences act). "In-family" is the
same with the combination fitted on all families; "hand" uses the shipped hand-set weights
(``combiner``); a baseline engine (today's release, run through its own ``integrity check``) can
be given as a source tree. The detectors' own ramps were set by hand by someone who had seen every
family - the combination, the threshold and the paid-review head are held out: with embeddings
(``report_from(..., embeddings=)``, ``--fold-heads``) every fold retrains the head without its family
(``lofo_head``); without, the head's signal is absent in every fold.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from trustscope.integrity import combiner
from trustscope.integrity.engine import IntegrityEngine
from trustscope.integrity.evaluate import run_stream
from trustscope.integrity.score import verified_score
from trustscope.integrity.simulator import ALL_ATTACKS, SimConfig, Simulation, simulate

TUNE_SEEDS = (1, 2)
EVAL_SEEDS = (101, 102)
TUNE_DOMAINS = ("shopping",)
TUNE_EXCLUDE = ("shopping/水果",)  # a held-out shopping category, evaluated with food_delivery
EVAL_DOMAINS = ("food_delivery", "shopping/水果")  # enough texts that a stream never repeats one
TARGET_FPR = 0.003  # honest reviews flagged on the tuning streams
PRIOR_STRENGTH = 0.002  # pull of the hand-set weights on the fitted ones (per squared unit of weight)
FEATURES = tuple(combiner.WEIGHTS)
PAID = FEATURES.index("paid_text")
IN_FAMILY = "ALL"  # the fold that holds nothing out


@dataclass
class Stream:
    """One judged stream: per review its label and signal scores, plus what the score needs."""

    family: str | None
    seed: int
    sim: Simulation
    x: np.ndarray  # reviews x FEATURES
    labels: list[str]
    baseline_flags: np.ndarray | None = None  # today's engine, when a baseline source was given
    paid: dict[str, np.ndarray] = field(default_factory=dict)  # fold -> its own head's paid_text column

    def x_for(self, fold: str) -> np.ndarray:
        """The signals as fold ``fold`` sees them: its own paid-review head's column, when there is one
        (``lofo_head``); otherwise the head is absent (0) as in the judged stream."""
        col = self.paid.get(fold)
        if col is None:
            return self.x
        x = self.x.copy()
        x[:, PAID] = col
        return x


@dataclass
class Combination:
    weights: np.ndarray
    bias: float
    threshold: float  # flag when the logit is >= this

    def flags(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights + self.bias >= self.threshold


def hand_combination() -> Combination:
    """The shipped combiner: flagged (suspicious or fake) when fake_prob >= 0.5, i.e. logit >= 0."""
    w = np.array([combiner.WEIGHTS[f] for f in FEATURES])
    return Combination(w, combiner.BIAS, float(np.log(combiner.SUSPICIOUS / (1 - combiner.SUSPICIOUS))))


def judge_stream(family: str | None, seed: int, variant: str, domains: tuple[str, ...], days: int = 60,
                 platforms: int = 10, use_corpus: bool = True, exclude: tuple[str, ...] = ()) -> Stream:
    sim = simulate(SimConfig(seed=seed, attacks=(family,) if family else (), variant=variant, domains=domains,
                             days=days, platforms=platforms, use_corpus=use_corpus, exclude_domains=exclude))
    engine = IntegrityEngine.in_memory()
    run_stream(sim, engine)
    ids = [e.id for e in sim.events]
    cur = {u.id: u for i in range(0, len(ids), 2048) for u in engine.current(ids[i:i + 2048])}
    x = np.array([[cur[i].signals.get(f, 0.0) for f in FEATURES] for i in ids], dtype=float)
    return Stream(family, seed, sim, x, [sim.labels[i] for i in ids])


def fit(streams: list[Stream], exclude: str | None, target_fpr: float = TARGET_FPR,
        prior_strength: float = PRIOR_STRENGTH) -> Combination:
    """Logistic regression on the streams of every family but ``exclude``, class-balanced, with
    non-negative weights pulled towards the hand-set ones (a Gaussian prior centred on
    ``combiner.WEIGHTS``: evidence the tuning families never exercise keeps its hand weight instead
    of dropping to zero); the threshold keeps the tuning streams' honest false-positive rate at
    ``target_fpr`` (and never below the hand combiner's)."""
    from scipy.optimize import minimize

    xs, ys = [], []
    fold = exclude or IN_FAMILY
    for s in streams:
        if s.family is not None and s.family == exclude:
            continue
        keep = np.array([lab == "honest" or lab == s.family for lab in s.labels])
        xs.append(s.x_for(fold)[keep])
        ys.append(np.array([lab != "honest" for lab in s.labels])[keep])
    x, y = np.vstack(xs), np.concatenate(ys).astype(float)
    sw = np.where(y > 0, 0.5 / max(1.0, y.sum()), 0.5 / max(1.0, (1 - y).sum()))  # balanced, sums to 1
    hand = hand_combination()
    w0 = np.append(hand.weights, hand.bias)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta[:-1] + theta[-1]
        p = 1.0 / (1.0 + np.exp(-z))
        ll = np.sum(sw * (np.logaddexp(0.0, z) - y * z))
        g = np.append(x.T @ (sw * (p - y)), np.sum(sw * (p - y)))
        d = theta - w0
        d[-1] = 0.0  # the bias is free
        return ll + prior_strength * float(d @ d), g + 2 * prior_strength * d

    bounds = [(0.0, None)] * len(FEATURES) + [(None, None)]
    theta = minimize(loss, w0, jac=True, method="L-BFGS-B", bounds=bounds).x
    w, b = theta[:-1], float(theta[-1])
    honest = x[y == 0] @ w + b
    thr = max(0.0, float(np.quantile(honest, 1.0 - target_fpr)) + 1e-9)
    return Combination(w, b, thr)


def _score_shift(att: Stream, ref: Stream, att_flags: np.ndarray | None, ref_flags: np.ndarray | None,
                 robust: bool = True) -> float:
    target = att.sim.targets[att.family]

    def score(s: Stream, flags: np.ndarray | None) -> float:
        items = [{"rating": e.rating, "created_at": e.created_at, "author_id": e.author_id,
                  "author_created_at": e.author_created_at, "author_review_count": e.author_review_count,
                  "verdict": "suspicious" if flags is not None and flags[n] else "verified"}
                 for n, e in enumerate(s.sim.events) if e.platform == target]
        return verified_score(items, now=s.sim.end, robust=robust).verified_score
    return score(att, att_flags) - score(ref, ref_flags)


@dataclass
class Row:
    family: str
    n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    honest: int = 0
    shift_on: float = 0.0  # max |shift| over seeds
    shift_off: float = 0.0
    shift_off_plain: float = 0.0  # detection off, old score formula (no defences)

    def add(self, tp: int, fp: int, fn: int, honest: int, on: float, off: float, plain: float) -> None:
        self.tp += tp
        self.fp += fp
        self.fn += fn
        self.n += tp + fn
        self.honest += honest
        self.shift_on = max(self.shift_on, abs(on))
        self.shift_off = max(self.shift_off, abs(off))
        self.shift_off_plain = max(self.shift_off_plain, abs(plain))

    def metrics(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return {"family": self.family, "n": self.n, "precision": round(p, 4), "recall": round(r, 4),
                "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
                "honest_fpr": round(self.fp / self.honest, 5) if self.honest else 0.0,
                "vs_shift_on": round(self.shift_on, 3), "vs_shift_off": round(self.shift_off, 3),
                "vs_shift_off_plain": round(self.shift_off_plain, 3)}


@dataclass
class LofoReport:
    held_out: list[dict[str, Any]] = field(default_factory=list)
    in_family: list[dict[str, Any]] = field(default_factory=list)
    hand: list[dict[str, Any]] = field(default_factory=list)
    baseline: list[dict[str, Any]] = field(default_factory=list)
    honest_only_fpr: dict[str, float] = field(default_factory=dict)
    combinations: dict[str, dict[str, float]] = field(default_factory=dict)
    heads: dict[str, dict[str, float]] = field(default_factory=dict)  # per-fold paid-review heads
    reviews: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"held_out": self.held_out, "in_family": self.in_family, "hand": self.hand,
                "baseline": self.baseline, "honest_only_fpr": self.honest_only_fpr,
                "combinations": self.combinations, "heads": self.heads, "reviews": self.reviews,
                "tune": {"seeds": TUNE_SEEDS, "domains": TUNE_DOMAINS, "exclude": TUNE_EXCLUDE, "variant": "tune"},
                "eval": {"seeds": EVAL_SEEDS, "domains": EVAL_DOMAINS, "variant": "eval"}}


def _rows(evals: dict[str, list[Stream]], refs: dict[int, Stream], combo_of: Any, name: str,
          flags_of: Any = None, robust: bool = True, fold_of: Any = None) -> list[dict[str, Any]]:
    """Per family: detection metrics and score shifts (``robust``: which score formula the
    detection-on shift uses - the baseline release is measured with its own, the plain one)."""
    rows, total = [], Row("ALL")
    for fam, streams in evals.items():
        row = Row(fam)
        for s in streams:
            ref = refs[s.seed]
            if flags_of is not None:
                fl, rfl = flags_of(s), flags_of(ref)
            else:
                combo, fold = combo_of(fam), fold_of(fam) if fold_of else IN_FAMILY
                fl, rfl = combo.flags(s.x_for(fold)), combo.flags(ref.x_for(fold))
            lab = np.array(s.labels)
            att, hon = lab == fam, lab == "honest"
            args = (int((fl & att).sum()), int((fl & hon).sum()), int((~fl & att).sum()), int(hon.sum()),
                    _score_shift(s, ref, fl, rfl, robust=robust), _score_shift(s, ref, None, None),
                    _score_shift(s, ref, None, None, robust=False))
            row.add(*args)
            total.add(*args)
        rows.append(row.metrics())
    rows.append(total.metrics())
    return rows


def baseline_flags(stream: Stream, src: Path) -> np.ndarray:
    """Flags of another engine version (a source tree with ``trustscope/``), through its own
    ``trustscope integrity check --no-model`` on the stream's JSON lines."""
    lines = b"".join(orjson.dumps({"id": e.id, "platform": e.platform, "author_id": e.author_id,
                                   "rating": e.rating, "text": e.text, "created_at": e.created_at,
                                   "author_created_at": e.author_created_at,
                                   "author_review_count": e.author_review_count,
                                   "prob_positive": e.prob_positive}) + b"\n" for e in stream.sim.events)
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-m", "trustscope.cli.main", "integrity", "check", "--no-model"],
                         input=lines, capture_output=True, env=env, check=True, cwd=str(src)).stdout
    verdict = {d["id"]: d["verdict"] for d in map(orjson.loads, out.splitlines())}
    return np.array([verdict[e.id] != "verified" for e in stream.sim.events])


def leave_one_family_out(families: tuple[str, ...] = ALL_ATTACKS, days: int = 60, platforms: int = 10,
                         use_corpus: bool = True, baseline_src: Path | None = None,
                         progress: Any = None, model_dir: Path | None = None,
                         cache_dir: Path | None = None) -> LofoReport:
    """``model_dir``: a sentiment model whose encoder embeds the texts for the per-fold paid-review
    heads (None: no head in any fold)."""
    data = collect(families, days, platforms, use_corpus, progress)
    emb = None
    if model_dir is not None:
        from trustscope.integrity.lofo_head import TextEmbeddings
        from trustscope.integrity.paid_head import Encoder

        emb = TextEmbeddings(stream_texts(data), Encoder(model_dir), cache_dir, progress or (lambda m: None))
    return report_from(data, baseline_src, progress, emb)


@dataclass
class Collected:
    """Every judged stream of a leave-one-family-out run (fitting and reporting are cheap after)."""

    families: tuple[str, ...]
    tune: list[Stream]
    refs: dict[int, Stream]
    evals: dict[str, list[Stream]]


def collect(families: tuple[str, ...] = ALL_ATTACKS, days: int = 60, platforms: int = 10,
            use_corpus: bool = True, progress: Any = None) -> Collected:
    log = progress or (lambda m: None)
    tune: list[Stream] = []
    for seed in TUNE_SEEDS:
        for fam in (None, *families):
            tune.append(judge_stream(fam, seed, "tune", TUNE_DOMAINS, days, platforms, use_corpus, TUNE_EXCLUDE))
            log(f"tune seed {seed} {fam or 'honest'}: {len(tune[-1].labels)} reviews")
    refs = {seed: judge_stream(None, seed, "eval", EVAL_DOMAINS, days, platforms, use_corpus) for seed in EVAL_SEEDS}
    evals: dict[str, list[Stream]] = {}
    for fam in families:
        evals[fam] = [judge_stream(fam, seed, "eval", EVAL_DOMAINS, days, platforms, use_corpus)
                      for seed in EVAL_SEEDS]
        log(f"eval {fam}: {sum(len(s.labels) for s in evals[fam])} reviews")
    return Collected(tuple(families), tune, refs, evals)


def attach_fold_heads(data: Collected, emb: Any, progress: Any = None) -> dict[str, dict[str, float]]:
    """Train the paid-review head inside every fold (``lofo_head``) and attach each fold's
    ``paid_text`` column to every stream (tuning streams: cross-fitted by seed). Returns each
    fold head's threshold and training size, for the report."""
    from trustscope.integrity import lofo_head

    log = progress or (lambda m: None)
    out: dict[str, dict[str, float]] = {}
    evals = [s for ss in data.evals.values() for s in ss] + list(data.refs.values())
    for fam in (*data.families, None):
        fold = fam or IN_FAMILY
        full, per_seed = lofo_head.train_fold(emb, data.tune, fam, lambda s: s.seed)
        for s in data.tune:
            s.paid[fold] = per_seed[s.seed].column(emb.of([e.text for e in s.sim.events]))
        for s in evals:
            s.paid[fold] = full.column(emb.of([e.text for e in s.sim.events]))
        out[fold] = {"threshold": round(full.threshold, 4)}
        log(f"paid-review head for fold {fold}: threshold {full.threshold:.3f}")
    return out


def stream_texts(data: Collected) -> set[str]:
    streams = [*data.tune, *data.refs.values(), *(s for ss in data.evals.values() for s in ss)]
    return {e.text for s in streams for e in s.sim.events if e.text}


def report_from(data: Collected, baseline_src: Path | None = None, progress: Any = None,
                embeddings: Any = None) -> LofoReport:
    """Fit every fold and report. With ``embeddings`` (``lofo_head.TextEmbeddings`` of the run's
    texts) each fold also retrains the paid-review head without its family; without, the head's
    signal is absent in every fold (it cannot leak the held-out family either way)."""
    log = progress or (lambda m: None)
    families, tune, refs, evals = data.families, data.tune, data.refs, data.evals
    report = LofoReport()
    if embeddings is not None:
        report.heads = attach_fold_heads(data, embeddings, progress)
    report.reviews = sum(len(s.labels) for s in tune) + sum(len(s.labels) for s in refs.values()) + \
        sum(len(s.labels) for ss in evals.values() for s in ss)
    combos = {fam: fit(tune, fam) for fam in families}
    full = fit(tune, None)
    hand = hand_combination()
    for name, c in [*combos.items(), ("ALL (in-family)", full)]:
        report.combinations[name] = {**{f: round(float(w), 3) for f, w in zip(FEATURES, c.weights)},
                                     "bias": round(c.bias, 3), "threshold": round(c.threshold, 3)}
    report.held_out = _rows(evals, refs, lambda fam: combos[fam], "held_out", fold_of=lambda fam: fam)
    report.in_family = _rows(evals, refs, lambda fam: full, "in_family")
    report.hand = _rows(evals, refs, lambda fam: hand, "hand")
    for name, c in (("held_out_mean", None), ("in_family", full), ("hand", hand)):
        fl = tot = 0
        for ref in refs.values():
            if c is None:  # each held-out combination on the honest-only streams, averaged
                f = float(np.mean([combos[fam].flags(ref.x_for(fam)).sum() for fam in families]))
            else:
                f = float(c.flags(ref.x_for(IN_FAMILY)).sum())
            fl += f
            tot += len(ref.labels)
        report.honest_only_fpr[name] = round(fl / tot, 5)
    if baseline_src is not None:
        def flags_of(s: Stream) -> np.ndarray:
            if s.baseline_flags is None:
                s.baseline_flags = baseline_flags(s, baseline_src)
            return s.baseline_flags
        report.baseline = _rows(evals, refs, None, "baseline", flags_of, robust=False)
        fl = sum(int(flags_of(r).sum()) for r in refs.values())
        report.honest_only_fpr["baseline"] = round(fl / sum(len(r.labels) for r in refs.values()), 5)
        log("baseline done")
    return report


def format_lofo(report: LofoReport) -> str:
    d = report.to_dict()
    by = {k: {r["family"]: r for r in d[k]} for k in ("held_out", "in_family", "hand", "baseline")}
    head = (f"{'family':<17}{'n':>6} | {'held-out: P':>11}{'R':>7}{'F1':>7}{'hFP%':>7}{'dVS':>7}{'dVSoff':>7}"
            f" | {'in-fam F1':>9}{'dVS':>6} | {'hand F1':>7}{'dVS':>6} | {'base F1':>7}{'dVS':>6}{'off0':>6}")
    lines = [f"leave-one-family-out: tuned on {d['tune']}, evaluated on {d['eval']}; {d['reviews']} reviews", head]
    for r in d["held_out"]:
        f = r["family"]
        i, h, b = by["in_family"][f], by["hand"][f], by["baseline"].get(f)
        base = f" | {b['f1']:>7.3f}{b['vs_shift_on']:>6.2f}" if b else f" | {'-':>7}{'-':>6}"
        lines.append(f"{f:<17}{r['n']:>6} | {r['precision']:>11.3f}{r['recall']:>7.3f}{r['f1']:>7.3f}"
                     f"{100 * r['honest_fpr']:>7.2f}{r['vs_shift_on']:>7.3f}{r['vs_shift_off']:>7.3f}"
                     f" | {i['f1']:>9.3f}{i['vs_shift_on']:>6.2f} | {h['f1']:>7.3f}{h['vs_shift_on']:>6.2f}"
                     f"{base}{r['vs_shift_off_plain']:>6.2f}")
    lines.append("honest-only streams, share of honest reviews flagged: " +
                 ", ".join(f"{k} {100 * v:.2f}%" for k, v in d["honest_only_fpr"].items()))
    lines.append("dVS = max |verified-score shift| of the target (stars) with detection; dVSoff = detection "
                 "off (score defences only); off0 = detection off with the old score formula")
    return "\n".join(lines)
