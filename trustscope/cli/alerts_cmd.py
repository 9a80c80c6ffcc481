"""`trustscope alerts ...`: operator commands for rumour alerts (docs/alerts.md)."""

from __future__ import annotations

import orjson
import typer

app = typer.Typer(help="Rumour alerts.", no_args_is_help=True)


@app.command("warm-baselines")
def warm_command(
    days: float = typer.Option(14.0, "--days", min=0.1, max=90, help="days of indexed history to learn from"),
    force: bool = typer.Option(False, "--force", help="also platforms whose baseline exists (counts twice)"),
) -> None:
    """Teach each platform's baseline from the documents in Elasticsearch (run once after install)."""
    from trustscope.alerts.config import AlertConfig
    from trustscope.alerts.rates import RateModel
    from trustscope.alerts.warm import warm_baselines
    from trustscope.es import DocIndices, make_client
    from trustscope.intake import redis_client
    from trustscope.settings import get_settings

    settings = get_settings()
    rates = RateModel(redis_client(settings), AlertConfig.from_settings(settings))
    done = warm_baselines(make_client(settings), DocIndices(settings.es_index_prefix).read_alias, rates,
                          days=days, force=force)
    for platform, counts in sorted(done.items()):
        typer.echo(orjson.dumps({"platform": platform, **counts}).decode())
    typer.echo(f"{len(done)} platform baselines warmed from {days:g} days", err=True)
