"""``trustscope import FILE``: send a JSONL or CSV file through the ingest API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl or csv (default: from the suffix)")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="target=source, e.g. text=content, author.id=uid")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="target=value for every record, e.g. kind=review")] = None,
    url: Annotated[str, typer.Option(envvar="TS_INGEST_URL", help="ingest API base URL")] = "http://127.0.0.1:8001",
    api_key: Annotated[str | None, typer.Option(envvar="TS_API_KEY", help="key with the ingest role")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
    show_errors: Annotated[int, typer.Option(help="rejected lines to list")] = 20,
) -> None:
    """Import FILE (JSONL or CSV) and end with a summary: accepted, duplicates, rejected with reasons."""
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    from trustscope.importer import count_records, import_file, parse_pairs

    console = Console(stderr=True)
    fmt = (fmt or ("csv" if file.suffix.lower() == ".csv" else "jsonl")).lower()
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("--format must be jsonl or csv")
    try:
        mapping = parse_pairs(map_ or [], "--map")
        constants = parse_pairs(set_ or [], "--set")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    total = count_records(file, fmt)
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client, Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task(f"importing {file.name}", total=total)
        try:
            summary = import_file(file, client, fmt, mapping, constants, batch_size,
                                  progress=lambda n: progress.advance(task, n))
        except (httpx.HTTPError, RuntimeError) as exc:
            console.print(f"[red]import stopped:[/red] {exc}")
            raise typer.Exit(2) from exc
    table = Table(title=f"{file.name}: {summary.lines} records")
    for name in ("accepted", "updated", "duplicates", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(str(summary.accepted), str(summary.updated), str(summary.duplicates), str(len(summary.rejected)))
    console.print(table)
    for line, reason in summary.rejected[:show_errors]:
        console.print(f"  line {line}: {reason}")
    if len(summary.rejected) > show_errors:
        console.print(f"  ... and {len(summary.rejected) - show_errors} more")
    import orjson

    sys.stdout.write(orjson.dumps(summary.to_dict()).decode() + "\n")
    raise typer.Exit(1 if summary.rejected and not (summary.accepted or summary.updated or summary.duplicates) else 0)
