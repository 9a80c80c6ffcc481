"""`trustscope integrity ...`: batch check of a review stream, and the simulator's evaluation.

``check`` runs the same engine and signals as the streaming service (in memory instead of Redis).
Bad input lines do not stop the run: each is reported on stderr as one JSON object
``{"line": N, "error": "..."}`` (N counts from 1) and skipped; ``--strict`` makes the exit status 1
when any line was bad. Verdicts are written once the whole stream has been seen, one line per
review id, in input order: ``{"id","verdict","fake_prob","reasons"}``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import typer

app = typer.Typer(help="Fake and coordinated review detection.", no_args_is_help=True)


def _load_sentiment(model: Path | None, no_model: bool) -> Any:
    """The sentiment classifier, or None (rating-text mismatch then uses only ``prob_positive``
    given in the input lines, and the paid-review head ``paid_prob``)."""
    if no_model:
        return None
    try:
        from trustscope.sentiment import load_classifier

        return load_classifier(str(model) if model else None)
    except FileNotFoundError as exc:
        if model is not None:
            raise typer.BadParameter(str(exc), param_hint="--model") from exc
        typer.echo(f"warning: {exc}; rating-text mismatch uses input prob_positive only "
                   "(pass --no-model to silence)", err=True)
        return None


def _load_paid_head(model: Path | None, classifier: Any) -> Any:
    """The paid-review head shipped with the model (``heads/paid_review.json``), or None."""
    try:
        from trustscope.integrity.paid_head import PaidHead

        return PaidHead.from_model_dir(model, classifier=classifier)
    except (FileNotFoundError, ImportError, ValueError) as exc:
        typer.echo(f"warning: paid-review head not loaded ({exc}); signal paid_text absent", err=True)
        return None


@app.command()
def check(
    scores: Path | None = typer.Option(None, "--scores", help="also write verified scores per platform (JSON)"),
    model: Path | None = typer.Option(None, "--model", help="sentiment model dir (default: settings)"),
    no_model: bool = typer.Option(False, "--no-model", help="do not load the sentiment model"),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="reviews judged together"),
    now: str | None = typer.Option(None, "--now", help="time the scores are computed at (ISO/epoch; "
                                                       "default: latest review time)"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 if any input line was bad"),
) -> None:
    """Judge reviews (JSON lines on stdin, in time order) and write final verdicts to stdout."""
    from trustscope.integrity import IntegrityEngine, ReviewEvent, ReviewInputError
    from trustscope.integrity.models import parse_time
    from trustscope.integrity.score import scores_by_platform

    clf = _load_sentiment(model, no_model)
    paid = _load_paid_head(model, clf) if clf is not None else None
    engine = IntegrityEngine.in_memory(sentiment=clf.classify if clf is not None else None, paid=paid,
                                       paid_threshold=paid.head.threshold if paid else 0.5)
    from trustscope import gctune  # the in-memory store fills this process's heap: tune as the stages do
    from trustscope.settings import get_settings

    gctune.apply(gctune.GcPolicy.from_settings(get_settings()))
    order: list[str] = []
    meta: dict[str, tuple[str, int | None, float]] = {}
    latest: dict[str, Any] = {}
    bad = 0
    batch: list[ReviewEvent] = []

    def flush() -> None:
        for u in engine.process(batch):
            latest[u.id] = u
        batch.clear()

    for n, line in enumerate(sys.stdin.buffer, start=1):
        if not line.strip():
            continue
        try:
            ev = ReviewEvent.from_dict(orjson.loads(line))
        except (orjson.JSONDecodeError, ReviewInputError, ValueError, TypeError) as exc:
            bad += 1
            sys.stderr.write(orjson.dumps({"line": n, "error": str(exc)}).decode() + "\n")
            continue
        if ev.id not in meta:
            order.append(ev.id)
            meta[ev.id] = (ev.platform, ev.rating, ev.created_at)
        batch.append(ev)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    out = sys.stdout.buffer
    for rid in order:
        u = latest[rid]
        out.write(orjson.dumps({"id": rid, "verdict": u.verdict, "fake_prob": u.fake_prob,
                                "reasons": u.reasons}) + b"\n")
    out.flush()
    if scores is not None:
        at = parse_time(now, "--now") if now else max((m[2] for m in meta.values()), default=None)
        items = [{"platform": meta[r][0], "rating": meta[r][1], "created_at": meta[r][2],
                  "verdict": latest[r].verdict, "reasons": latest[r].reasons} for r in order]
        body = {p: s.to_dict() for p, s in scores_by_platform(items, now=at).items()}
        scores.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    typer.echo(f"{len(order)} reviews judged, {bad} bad line(s) skipped", err=True)
    if strict and bad:
        raise typer.Exit(1)


@app.command()
def simulate(
    seed: int = typer.Option(0, help="random seed (same seed, same stream)"),
    attack: list[str] = typer.Option([], "--attack", help="attack(s) to inject; repeat the option"),
    days: int = typer.Option(60, min=20),
    platforms: int = typer.Option(10, min=3),
    builtin_texts: bool = typer.Option(False, "--builtin-texts", help="ignore the shared corpus"),
    labels: Path | None = typer.Option(None, "--labels", help="write id -> label JSON here"),
    variant: str = typer.Option("tune", "--variant", help="generator parameters: tune | eval"),
    domain: list[str] = typer.Option([], "--domain", help="corpus domain prefix(es) to draw texts from"),
) -> None:
    """Write a simulated, labelled review stream as JSON lines (the `check` input format)."""
    from trustscope.integrity.simulator import GEN_PARAMS, SimConfig
    from trustscope.integrity.simulator import simulate as run

    if variant not in GEN_PARAMS:
        raise typer.BadParameter(f"choose from {list(GEN_PARAMS)}", param_hint="--variant")
    try:
        sim = run(SimConfig(seed=seed, attacks=tuple(attack), days=days, platforms=platforms,
                            use_corpus=not builtin_texts, variant=variant, domains=tuple(domain) or None))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--attack") from exc
    out = sys.stdout.buffer
    for e in sim.events:
        out.write(orjson.dumps({"id": e.id, "platform": e.platform, "author_id": e.author_id,
                                "rating": e.rating, "text": e.text, "created_at": e.created_at,
                                "author_created_at": e.author_created_at,
                                "author_review_count": e.author_review_count,
                                "prob_positive": e.prob_positive}) + b"\n")
    if labels is not None:
        labels.write_bytes(orjson.dumps({"targets": sim.targets, "labels": sim.labels}))
    typer.echo(f"{len(sim.events)} reviews ({sim.text_source} texts), targets {sim.targets}", err=True)


@app.command("train-head")
def train_head(
    model: Path | None = typer.Option(None, "--model", help="sentiment model dir (default: settings)"),
    seeds: list[int] = typer.Option([], "--seeds", help="training seeds (default 1-8); repeat the option"),
    val_seeds: list[int] = typer.Option([], "--val-seeds", help="validation seeds (default 11 12)"),
    test_seeds: list[int] = typer.Option([], "--test-seeds", help="held-out seeds (default 101 102 103)"),
    holdout_domain: str = typer.Option("food_delivery", "--holdout-domain",
                                       help="corpus domain left out of training and reported apart ('' = none)"),
    out: Path | None = typer.Option(None, "--out", help="head file (default <model>/heads/paid_review.json)"),
    builtin_texts: bool = typer.Option(False, "--builtin-texts", help="ignore the shared corpus"),
) -> None:
    """Train the paid-review head on simulated campaigns and write <model>/heads/paid_review.json."""
    from trustscope.integrity import train_head as th
    from trustscope.settings import get_settings

    model_dir = model or Path(get_settings().sentiment_model_dir)
    if not (Path(model_dir).expanduser() / "model.safetensors").exists():
        raise typer.BadParameter(f"no model.safetensors in {model_dir}", param_hint="--model")
    argv = " ".join(sys.argv[1:])
    head = th.train(model_dir, train_seeds=tuple(seeds) or th.HEAD_TRAIN_SEEDS,
                    val_seeds=tuple(val_seeds) or th.VAL_SEEDS, test_seeds=tuple(test_seeds) or th.HELDOUT_SEEDS,
                    holdout_domain=holdout_domain or None, use_corpus=not builtin_texts, out=out,
                    command=f"trustscope {argv}", log=lambda m: typer.echo(m, err=True))
    typer.echo(th.format_metrics(head))


@app.command()
def evaluate(
    seed: list[int] = typer.Option([], "--seed", help="seeds to run (default: the held-out seeds)"),
    attack: list[str] = typer.Option([], "--attack", help="attacks (default: all)"),
    days: int = typer.Option(60, min=20),
    platforms: int = typer.Option(10, min=3),
    builtin_texts: bool = typer.Option(False, "--builtin-texts", help="ignore the shared corpus"),
    json_out: Path | None = typer.Option(None, "--json", help="also write the report as JSON"),
    model: Path | None = typer.Option(None, "--model", help="model dir with heads/paid_review.json"),
    no_head: bool = typer.Option(False, "--no-head", help="run without the paid-review head"),
    lofo: bool = typer.Option(False, "--leave-one-family-out",
                              help="tune the combination without each family, evaluate it on held-out "
                                   "generator parameters, domain and seeds (docs/integrity.md)"),
    baseline_src: Path | None = typer.Option(None, "--baseline-src",
                                             help="with --leave-one-family-out: a source tree of another "
                                                  "engine version, run through its own `integrity check`"),
    fold_heads: bool = typer.Option(True, "--fold-heads/--no-fold-heads",
                                    help="with --leave-one-family-out: retrain the paid-review head inside "
                                         "every fold on the sentiment model's embeddings (--model or "
                                         "settings; needs torch); off: no head in any fold"),
) -> None:
    """Precision/recall/F1 per attack, honest false positives and verified-score shift."""
    from trustscope.integrity.evaluate import HELDOUT_SEEDS, format_report
    from trustscope.integrity.evaluate import evaluate as run
    from trustscope.integrity.simulator import ALL_ATTACKS, ATTACKS, SimConfig

    unknown = [a for a in attack if a not in ALL_ATTACKS]
    if unknown:
        raise typer.BadParameter(f"unknown attack(s) {unknown}; choose from {list(ALL_ATTACKS)}",
                                 param_hint="--attack")
    if baseline_src is not None and not (baseline_src / "trustscope").is_dir():
        raise typer.BadParameter(f"no trustscope/ package in {baseline_src}", param_hint="--baseline-src")
    if lofo:
        from trustscope.integrity.lofo import format_lofo, leave_one_family_out

        from trustscope.settings import get_settings

        head_model = (model or Path(get_settings().sentiment_model_dir)).expanduser() if fold_heads else None
        if head_model is not None and not (head_model / "config.json").exists():
            typer.echo(f"warning: no sentiment model in {head_model}; folds run without a paid-review head",
                       err=True)
            head_model = None
        rep = leave_one_family_out(tuple(attack) or ALL_ATTACKS, days=days, platforms=platforms,
                                   use_corpus=not builtin_texts, baseline_src=baseline_src,
                                   progress=lambda m: typer.echo(f"  {m}", err=True), model_dir=head_model,
                                   cache_dir=Path("~/.cache/trustscope/lofo").expanduser())
        typer.echo(format_lofo(rep))
        if json_out is not None:
            json_out.write_bytes(orjson.dumps(rep.to_dict(), option=orjson.OPT_INDENT_2))
        return
    paid = None if no_head else _load_paid_head(model, None)
    if paid is None and not no_head:
        typer.echo("warning: no paid-review head found; evaluating without it", err=True)
    report = run(seeds=tuple(seed) or HELDOUT_SEEDS, attacks=tuple(attack) or ATTACKS,
                 base=SimConfig(days=days, platforms=platforms, use_corpus=not builtin_texts),
                 paid=paid, paid_threshold=paid.head.threshold if paid else None,
                 progress=lambda r: typer.echo(f"  seed {r.seed} {r.attack}: recall {r.recall:.3f} "
                                               f"precision {r.precision:.3f}", err=True))
    typer.echo(format_report(report))
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
