"""`trustscope rumour ...`: batch classification of events (the contract for independent checks),
training of the shipped model and its cross-validated evaluation.

``classify`` reads CED-format events (one JSON object per line: ``id``, ``text``, ``time``, ``user``,
``reposts`` [{mid, parent, uid, text, time}], no ``label``) and writes exactly one line per input
line, in order: ``{"id", "label": "rumour"|"non_rumour", "prob_rumour"}``, or for a line that is not
a usable event ``{"id": <id or null>, "error": "..."}`` (blank lines too); the run goes on.
``--horizon-hours H`` uses only reposts within H hours of the post; H = 0 is the post alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

import orjson
import typer

app = typer.Typer(help="Rumour detection on Weibo-style events (post + reposts).", no_args_is_help=True)
DEFAULT_DATA = Path("../shared/data/rumour_ced_train.jsonl.gz")


def _model_dir(model: Path | None) -> Path:
    if model is not None:
        return model
    from trustscope.settings import get_settings

    return Path(get_settings().rumour_model_dir)


def classify_stream(lines: IO[bytes], out: IO[bytes], model: Any, horizon: float | None,
                    batch_size: int = 256, embedder: Any = None) -> dict[str, int]:
    """Classify every line of ``lines`` into ``out``; returns counts of ok and error lines.
    ``embedder`` (``rumour.encoder.load_embedder``) adds the model's encoder view; None scores without."""
    from trustscope.rumour.events import EventError, RumourEvent, parse_event

    counts = {"ok": 0, "error": 0}
    pending: list[tuple[Any, RumourEvent | None, str | None]] = []

    def flush() -> None:
        events = [ev for _, ev, _ in pending if ev is not None]
        encoding = None
        need = [model.needs_encoding(e) for e in events] if embedder is not None else []
        if any(need):  # only the bands with an encoder view read it (the post alone)
            from trustscope.rumour.encoder import encode_events

            encoding = encode_events(embedder, events, only=need)
        probs = iter(model.predict_proba(events, encoding).tolist()) if events else iter(())
        for event_id, ev, err in pending:
            if ev is None:
                out.write(orjson.dumps({"id": event_id, "error": err}) + b"\n")
                counts["error"] += 1
            else:
                p = round(float(next(probs)), 6)
                label = "rumour" if p >= model.threshold else "non_rumour"
                out.write(orjson.dumps({"id": ev.id, "label": label, "prob_rumour": p}) + b"\n")
                counts["ok"] += 1
        pending.clear()

    for raw in lines:
        event_id: Any = None
        try:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise EventError(f"line: not JSON ({exc})") from None
            if isinstance(obj, dict):
                event_id = obj.get("id")
                if event_id is not None and not isinstance(event_id, (str, int)):
                    event_id = str(event_id)
            event = parse_event(obj)
            pending.append((event_id, event.truncated(horizon), None))
        except EventError as exc:
            pending.append((event_id, None, str(exc)))
        except (ValueError, TypeError, RecursionError) as exc:  # anything else odd about the line
            pending.append((event_id, None, f"line: {exc}"))
        if len(pending) >= batch_size:
            flush()
    flush()
    out.flush()
    return counts


@app.command()
def classify(
    horizon_hours: float | None = typer.Option(None, "--horizon-hours", min=0.0,
                                               help="use reposts within H hours of the post; 0 = post alone"),
    model: Path | None = typer.Option(None, "--model", help="model dir (default: TS_RUMOUR_MODEL_DIR)"),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="events scored together"),
    encoder: Path | None = typer.Option(None, "--encoder", help="sentiment model dir whose embeddings the "
                                        "model's encoder view reads (default: the one it was fitted on, "
                                        "found in models/ or TS_SENTIMENT_MODEL_DIR)"),
    no_encoder: bool = typer.Option(False, "--no-encoder", help="score without the encoder view (faster)"),
) -> None:
    """Classify events (JSON lines on stdin) and write one result line per input line to stdout."""
    from trustscope.rumour.model import RumourModel

    directory = _model_dir(model)
    try:
        loaded = RumourModel.load(directory)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from exc
    embedder = None
    if loaded.encoder is not None and not no_encoder:
        from trustscope.rumour.encoder import find_encoder_dir, load_embedder

        where = encoder or find_encoder_dir(loaded.encoder.encoder_name, loaded.encoder.encoder_id)
        if where is None:
            typer.echo(f"encoder {loaded.encoder.encoder_name} ({loaded.encoder.encoder_id[:16]}) not found: "
                       "scoring without the encoder view", err=True)
        else:  # a changed or missing encoder drops the view (logged once) rather than failing the run
            embedder = load_embedder(where, loaded.encoder.encoder_id)
    counts = classify_stream(sys.stdin.buffer, sys.stdout.buffer, loaded, horizon_hours, batch_size, embedder)
    if counts["error"]:
        typer.echo(f"{counts['error']} line(s) were not usable events (error lines written)", err=True)


def _dataset(data: Path, horizons: list[float | None], encoder: Path | None, no_encoder: bool,
             post_only: bool = False) -> Any:
    from trustscope.rumour.training import Dataset, build_post_only, read_events

    if not data.exists():
        raise typer.BadParameter(f"{data} not found", param_hint="--data")
    events, y = read_events(data, with_reposts=not post_only)
    typer.echo(f"read {len(events)} events ({int(y.sum())} rumours) from {data}", err=True)
    ds = build_post_only(events, y) if post_only else Dataset.build(events, y, horizons)
    if not no_encoder:
        import time

        from trustscope.rumour.encoder import cached_embeddings, default_encoder_dir, load_embedder
        from trustscope.sentiment.heads import sha256_file

        where = Path(encoder or default_encoder_dir()).resolve()
        embedder = load_embedder(where)
        if embedder is None:
            typer.echo("no encoder: training without the encoder view", err=True)
        else:
            start = time.monotonic()
            ds.embeddings = cached_embeddings(embedder, events, sha256_file(data))
            ds.encoder_id = embedder.encoder_id
            ds.encoder_name = where.name
            typer.echo(f"encoder view: {ds.encoder_name} ({embedder.encoder_id[:16]}), "
                       f"embeddings in {time.monotonic() - start:.0f} s", err=True)
    return ds


@app.command()
def train(
    data: Path = typer.Option(DEFAULT_DATA, "--data", help="labelled CED-format events (.jsonl[.gz])"),
    out: Path = typer.Option(Path("models/trustscope-rumour-zh"), "--out", help="model dir to write"),
    seed: int = typer.Option(0, "--seed"),
    encoder: Path | None = typer.Option(None, "--encoder", help="sentiment model dir for the encoder view "
                                        "(default: models/trustscope-sentiment-bge-zh, else TS_SENTIMENT_MODEL_DIR)"),
    no_encoder: bool = typer.Option(False, "--no-encoder", help="train without the encoder view"),
    encoder_view_only: bool = typer.Option(False, "--encoder-view-only", help="refit only the encoder view "
                                           "of the model already in --out (after the sentiment encoder changed; "
                                           "about a minute): text views and other bands are kept"),
) -> None:
    """Train the shipped model (views + stackers on all events, horizon-augmented) into --out."""
    import time

    from trustscope.rumour import training as T
    from trustscope.rumour.model import RumourModel

    start = time.monotonic()
    if encoder_view_only:
        try:
            current = RumourModel.load(out)
        except (FileNotFoundError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--out") from exc
        ds = _dataset(data, [0.0], encoder, no_encoder, post_only=True)
        try:
            model = T.with_encoder_view(current, ds, seed=seed)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--out") from exc
    else:
        ds = _dataset(data, list(T.TRAIN_HORIZONS), encoder, no_encoder)
        model = T.train(ds, seed=seed, meta={"data": data.name})
    model.save(out)
    view = f"encoder view on {model.encoder.encoder_name}" if model.encoder else "no encoder view"
    typer.echo(f"wrote {out} ({view}) in {time.monotonic() - start:.0f} s", err=True)


@app.command()
def evaluate(
    data: Path = typer.Option(DEFAULT_DATA, "--data", help="labelled CED-format events (.jsonl[.gz])"),
    folds: int = typer.Option(5, "--folds", min=2),
    seed: int = typer.Option(0, "--seed"),
    report: Path | None = typer.Option(None, "--report", help="also write the report as JSON here"),
    plain_folds: bool = typer.Option(False, "--plain-folds", help="folds by event only (near-duplicate "
                                     "posts may straddle folds: shows what duplicates flatter); no time split"),
    encoder: Path | None = typer.Option(None, "--encoder", help="sentiment model dir for the encoder view"),
    no_encoder: bool = typer.Option(False, "--no-encoder", help="evaluate without the encoder view"),
    post_only: bool = typer.Option(False, "--post-only", help="only the post-only (0 h) rows: the 0 h band "
                                   "on its own, no comment view (minutes instead of a quarter hour)"),
    dump: Path | None = typer.Option(None, "--dump", help="also write each split's stacker inputs here "
                                     "(to compare stacker variants without refitting the views)"),
) -> None:
    """5-fold CV by event (near-duplicate posts kept together) and a time-ordered split, model vs
    char TF-IDF + LR baseline, at each horizon; the markdown table goes to stdout."""
    from trustscope.rumour import training as T

    ds = _dataset(data, list(T.TRAIN_HORIZONS) + list(T.EVAL_HORIZONS), encoder, no_encoder, post_only)
    echo = lambda m: typer.echo(m, err=True)  # noqa: E731
    if post_only:
        result = T.evaluate_post_only(ds, folds=folds, seed=seed, log=echo)
    else:
        result = T.evaluate(ds, folds=folds, seed=seed, group_duplicates=not plain_folds,
                            time_split=not plain_folds, log=echo, dump=dump)
    if report is not None:
        report.write_text(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    typer.echo(result.markdown())
