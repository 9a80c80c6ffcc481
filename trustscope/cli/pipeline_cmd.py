"""``trustscope pipeline status|replay|prune-consumers``: the stream pipeline's repair tools.

Thin: the logic is trustscope/pipeline_admin.py (the gateway's admin router calls the same functions).
"""

from __future__ import annotations

from datetime import datetime, timezone

import typer

app = typer.Typer(help="Stream pipeline: lag per stage, dead-letter replay, dead consumers", no_args_is_help=True)


def _bus():  # type: ignore[no-untyped-def]
    from trustscope.bus import StreamBus, redis_from_settings
    from trustscope.settings import get_settings

    settings = get_settings()
    return StreamBus(redis_from_settings(settings), settings.stream_prefix, settings.max_deliveries,
                     settings.claim_idle_ms)


def _when(value: str | None) -> float | None:
    """Unix seconds or an ISO-8601 time (naive = UTC)."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not a time: {value!r} (unix seconds or ISO-8601)") from exc
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables")) -> None:
    """Backlog, lag, pending and consumers per stage; dead letters by reason and stage."""
    from rich.console import Console
    from rich.table import Table

    from trustscope.pipeline_admin import pipeline_status, to_json

    st = pipeline_status(_bus())
    if as_json:
        typer.echo(to_json(st.to_dict()).decode())
        return
    console = Console()
    table = Table(title="pipeline stages")
    for col in ("stage", "stream", "backlog", "lag", "pending", "oldest pending", "consumers"):
        table.add_column(col, justify="left" if col in ("stage", "stream", "consumers") else "right")
    for s in st.stages:
        consumers = ", ".join(f"{c.name} ({c.pending} pending, idle {c.idle_ms / 1000:.0f}s)" for c in s.consumers)
        table.add_row(s.stage, s.stream, str(s.length), str(s.lag), str(s.pending),
                      f"{s.oldest_pending_idle_ms / 1000:.1f}s" if s.pending else "-", consumers or "none")
    console.print(table)
    dead = Table(title=f"dead letters: {st.dead_letters}")
    dead.add_column("reason")
    dead.add_column("count", justify="right")
    for reason, n in st.dead_by_reason.items():
        dead.add_row(reason, str(n))
    for stage, n in st.dead_by_stage.items():
        dead.add_row(f"(stage {stage})", str(n))
    console.print(dead)


@app.command("replay")
def replay(
    reason: str | None = typer.Option(None, help="only this reason code"),
    stage: str | None = typer.Option(None, help="only dead letters of this stage (sentiment|integrity|indexer)"),
    since: str | None = typer.Option(None, help="failed at or after (unix seconds or ISO-8601)"),
    until: str | None = typer.Option(None, help="failed before (unix seconds or ISO-8601)"),
    error_contains: str | None = typer.Option(None, help="only errors containing this text"),
    limit: int | None = typer.Option(None, min=1, help="at most this many"),
    apply: bool = typer.Option(False, "--apply", help="really replay (default: dry run)"),
) -> None:
    """Put matching dead letters back on their streams. A dry run unless --apply."""
    from trustscope.pipeline_admin import DeadLetterFilter, replay_dead_letters, to_json

    flt = DeadLetterFilter(reason, stage, _when(since), _when(until), error_contains)
    report = replay_dead_letters(_bus(), flt, dry_run=not apply, limit=limit)
    typer.echo(to_json(report).decode())


@app.command("prune-consumers")
def prune_consumers(
    idle: float = typer.Option(3600.0, min=0, help="seconds a consumer must have been idle"),
    apply: bool = typer.Option(False, "--apply", help="really delete (default: dry run)"),
) -> None:
    """Remove consumers idle longer than --idle that hold no pending message."""
    from trustscope.pipeline_admin import remove_dead_consumers, to_json

    removed = remove_dead_consumers(_bus(), int(idle * 1000), dry_run=not apply)
    from dataclasses import asdict

    typer.echo(to_json({"dry_run": not apply, "removed": [asdict(r) for r in removed]}).decode())
