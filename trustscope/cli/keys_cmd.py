"""``trustscope keys create|list|rotate|revoke``: the Redis key store from the command line (the same
store the gateway's /v1/admin/keys uses). A new or rotated key is printed once; keep it then."""

from __future__ import annotations

import typer

app = typer.Typer(help="API keys (hashed in Redis): create, list, rotate, revoke", no_args_is_help=True)


def _store():  # type: ignore[no-untyped-def]
    from trustscope.intake import redis_client
    from trustscope.keys import RedisKeyStore
    from trustscope.settings import get_settings

    settings = get_settings()
    return RedisKeyStore(redis_client(settings), settings.stream_prefix)


@app.command("create")
def create(
    label: str = typer.Option(..., help="who or what the key is for"),
    role: list[str] = typer.Option(..., "--role", "-r",
                                   help="platform | risk_team | regulator | admin | ingest (repeatable)"),
    platform: list[str] = typer.Option([], "--platform", "-p", help="platform id a platform key speaks for"),
    expires_in_days: int = typer.Option(90, help="days until the key expires; 0 = never"),
    rate_per_s: float | None = typer.Option(None, help="requests/s for this key (default: TS_RATE_LIMIT_PER_S)"),
) -> None:
    """Create a key and print it (once) with its record as JSON."""
    import orjson
    from pydantic import ValidationError

    from trustscope.keys import KeySpec

    try:
        spec = KeySpec(label=label, roles=role, platforms=platform,
                       expires_in_days=expires_in_days or None, rate_per_s=rate_per_s)
        issued = _store().create(spec)
    except (ValidationError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(orjson.dumps(issued.model_dump()).decode())


@app.command("list")
def list_keys(all_keys: bool = typer.Option(False, "--all", help="include revoked keys")) -> None:
    """Print key records (never keys) as JSON lines."""
    import orjson

    for record in _store().list():
        if all_keys or record.revoked_at is None:
            typer.echo(orjson.dumps(record.public()).decode())


@app.command("rotate")
def rotate(key_id: str, expires_in_days: int | None = typer.Option(None, help="new expiry in days")) -> None:
    """Issue a new secret for KEY_ID; the old one stops working at once."""
    import orjson

    issued = _store().rotate(key_id, expires_in_days)
    if issued is None:
        typer.echo(f"error: no active key with id '{key_id}'", err=True)
        raise typer.Exit(1)
    typer.echo(orjson.dumps(issued.model_dump()).decode())


@app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke KEY_ID (its record is kept, marked revoked)."""
    import orjson

    record = _store().revoke(key_id)
    if record is None:
        typer.echo(f"error: no key with id '{key_id}'", err=True)
        raise typer.Exit(1)
    typer.echo(orjson.dumps(record.public()).decode())
