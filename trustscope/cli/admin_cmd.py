"""Operator commands: ``trustscope es migrate`` and ``trustscope platforms seed|list``."""

from __future__ import annotations

import typer

es_app = typer.Typer(help="Elasticsearch templates, indices and aliases", no_args_is_help=True)
platforms_app = typer.Typer(help="The platform registry in Redis", no_args_is_help=True)


@es_app.command("migrate")
def migrate(replicas: int | None = typer.Option(None, help="number_of_replicas for new indices")) -> None:
    """Create or upgrade the index template, indices and aliases (safe to run twice)."""
    import orjson

    from trustscope.es import DocIndices, make_client
    from trustscope.settings import get_settings

    settings = get_settings()
    result = DocIndices(settings.es_index_prefix).migrate(make_client(settings), replicas=replicas)
    typer.echo(orjson.dumps(result).decode())


@platforms_app.command("seed")
def seed() -> None:
    """Add the default platforms that the registry does not have yet."""
    from trustscope.intake import redis_client
    from trustscope.platforms import PlatformRegistry
    from trustscope.settings import get_settings

    settings = get_settings()
    added = PlatformRegistry(redis_client(settings), settings.stream_prefix).seed_defaults()
    typer.echo(f"added {added} platforms")


@platforms_app.command("list")
def list_platforms() -> None:
    """Print the registry as JSON lines."""
    from trustscope.intake import redis_client
    from trustscope.platforms import PlatformRegistry
    from trustscope.settings import get_settings

    settings = get_settings()
    for p in PlatformRegistry(redis_client(settings), settings.stream_prefix).all():
        typer.echo(p.model_dump_json())
