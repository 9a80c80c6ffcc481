"""`trustscope poll --config FILE [--once]`: run the ingest pollers from the command line.

``--once`` polls every enabled source once, prints a table of what each poll did and exits
(non-zero when a source failed), which is handy to try a new source's config. Without it the
command runs the poll loop like ``python -m services.ingest.poller``.
"""

from __future__ import annotations

from pathlib import Path

import typer


def poll(
    config: Path = typer.Option(..., "--config", "-c", exists=True, dir_okay=False, readable=True,
                                help="pollers YAML (see infra/pollers.example.yaml)"),
    once: bool = typer.Option(False, "--once", help="poll every enabled source once and exit"),
) -> None:
    """Poll RSS/Atom feeds and JSON APIs into the ingest stream (Redis from TS_REDIS_URL)."""
    from rich.console import Console
    from rich.table import Table

    from trustscope.observability import configure_logging
    from trustscope.pollers import ConfigError
    from trustscope.pollers.process import run_pollers
    from trustscope.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        results = run_pollers(str(config), once, settings)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not once:
        return
    table = Table("source", "outcome", "items", "skipped", "old", "seen", "accepted", "updated",
                  "duplicates", "seconds", "error")
    for r in results:
        table.add_row(r.source, r.outcome, str(r.items), str(r.skipped), str(r.old), str(r.seen),
                      str(r.accepted), str(r.updated), str(r.duplicates), f"{r.seconds:.2f}", r.error or "")
    Console().print(table)
    if any(r.outcome == "error" for r in results):
        raise typer.Exit(1)
