"""`trustscope poll --config FILE [--once]`: run the ingest pollers from the command line.

``--once`` polls every enabled source once, prints a line per source saying what its poll did and exits
(non-zero when a source failed), which is handy to try a new source's config. Without it the
command runs the poll loop like ``python -m services.ingest.poller``.
"""

from __future__ import annotations

from pathlib import Path

import typer


def poll(
    config: Path = typer.Option(..., "--config", "-c", envvar="TS_POLLERS_CONFIG", exists=True,
                                dir_okay=False, readable=True,
                                help="pollers YAML (see infra/pollers.example.yaml)"),
    once: bool = typer.Option(False, "--once", help="poll every enabled source once and exit"),
) -> None:
    """Poll RSS/Atom feeds and JSON APIs into the ingest stream (Redis from TS_REDIS_URL)."""
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
    for r in results:  # one line per source: readable in a terminal, greppable in CI logs
        line = (f"{r.source}: {r.outcome} items={r.items} skipped={r.skipped} old={r.old} seen={r.seen} "
                f"accepted={r.accepted} updated={r.updated} duplicates={r.duplicates} seconds={r.seconds:.2f}")
        typer.echo(line + (f" error={r.error}" if r.error else ""))
    if any(r.outcome == "error" for r in results):
        raise typer.Exit(1)
