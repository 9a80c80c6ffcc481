"""`trustscope sentiment ...`: batch sentiment for analysts and independent checks.

``classify`` streams JSON Lines: it reads ``batch`` lines, classifies them and writes one output
line per input line, in order, so a file of any size runs in bounded memory. A malformed line
(invalid JSON, not an object, missing or non-string ``text``, blank line) produces
``{"line": N, "error": "..."}`` (plus ``id`` when it could be read) and the run continues.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import typer

app = typer.Typer(help="Chinese sentiment (positive / negative / neutral).", no_args_is_help=True)


def _parse(lineno: int, raw: str) -> tuple[dict | None, dict | None]:
    """(record, None) for a usable line, (None, error line) otherwise."""
    if not raw.strip():
        return None, {"line": lineno, "error": "blank line"}
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        return None, {"line": lineno, "error": f"invalid JSON: {exc}"}
    if not isinstance(obj, dict):
        return None, {"line": lineno, "error": f"expected a JSON object, got {type(obj).__name__}"}
    err = None
    if "text" not in obj:
        err = "missing field 'text'"
    elif not isinstance(obj["text"], str):
        err = f"field 'text' must be a string, got {type(obj['text']).__name__}"
    if err:
        out = {"line": lineno, "error": err}
        if "id" in obj:
            out["id"] = obj["id"]
        return None, out
    return obj, None


def _dumps(obj: dict) -> str:
    """Compact UTF-8 JSON; falls back to \\u escapes when an id holds a lone surrogate (from a
    "\\ud800" escape in the input) that cannot be written as UTF-8."""
    line = json.dumps(obj, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(obj)
    return line


def _batches(lines: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for n, line in enumerate(lines, start=1):
        batch.append((n, line.rstrip("\r\n")))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def classify_stream(clf, src: Iterable[str], dst: IO[str], batch: int = 256) -> dict:
    """Classify JSON Lines from ``src`` into ``dst``; returns counts (lines, ok, unscored, errors)."""
    counts = {"lines": 0, "ok": 0, "unscored": 0, "errors": 0}
    for chunk in _batches(src, batch):
        parsed = [(n, *_parse(n, raw)) for n, raw in chunk]
        good = [rec for _, rec, _ in parsed if rec is not None]
        results = iter(clf.classify([rec["text"] for rec in good]) if good else [])
        for n, rec, err in parsed:
            counts["lines"] += 1
            if err is not None:
                counts["errors"] += 1
                out = err
            else:
                r = next(results)
                out = {"id": rec.get("id"), "label": r.label, "score": r.score,
                       "prob_positive": r.prob_positive}
                if not r.scored:
                    out.update(unscored=True, reason=r.reason)
                    counts["unscored"] += 1
                else:
                    counts["ok"] += 1
            dst.write(_dumps(out) + "\n")
        dst.flush()
    return counts


@app.command()
def classify(
    model: Path = typer.Option(None, "--model", help="checkpoint dir (default TS_SENTIMENT_MODEL_DIR)"),
    input: Path = typer.Option(None, "--input", "-i", help="JSON Lines file (default stdin)"),
    output: Path = typer.Option(None, "--output", "-o", help="output file (default stdout)"),
    batch: int = typer.Option(256, min=1, help="lines read and classified at a time"),
    threads: int = typer.Option(None, help="inference threads (default TS_TORCH_THREADS)"),
    max_length: int = typer.Option(None, help="tokens per text (default TS_SENTIMENT_MAX_LENGTH)"),
) -> None:
    """Read {"id","text"} lines, write {"id","label","score","prob_positive"} lines in the same order."""
    from trustscope.sentiment import load_classifier

    try:
        clf = load_classifier(str(model) if model else None, threads=threads, max_length=max_length)
    except (FileNotFoundError, OSError, ValueError) as exc:
        typer.echo(f"error: cannot load model: {exc}", err=True)
        raise typer.Exit(2) from exc
    src = input.open(encoding="utf-8", errors="replace") if input else sys.stdin
    dst = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        counts = classify_stream(clf, src, dst, batch)
    finally:
        if input:
            src.close()
        if output:
            dst.close()
    typer.echo(f"{counts['lines']} lines: {counts['ok']} scored, {counts['unscored']} unscored, "
               f"{counts['errors']} errors (model {clf.model_name}, backend {getattr(clf, 'backend', '?')})",
               err=True)


@app.command()
def text(
    texts: list[str] = typer.Argument(..., help="one or more texts"),
    model: Path = typer.Option(None, "--model", help="checkpoint dir"),
) -> None:
    """Classify texts given on the command line (quick look)."""
    from trustscope.sentiment import load_classifier

    clf = load_classifier(str(model) if model else None)
    for t, r in zip(texts, clf.classify(texts)):
        typer.echo(json.dumps({"text": t, **r.to_dict()}, ensure_ascii=False))
