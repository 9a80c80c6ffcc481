"""Operator commands: ``trustscope es migrate|rebuild-rollups`` and ``trustscope platforms seed|list``."""

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


@es_app.command("rebuild-rollups")
def rebuild_rollups() -> None:
    """Recompute the daily sentiment rollups from the documents (safe while the indexer runs).

    The indexer does this by itself when the rollups are not marked ready; run it by hand after
    restoring Elasticsearch from a snapshot or after changing the rollup time zone."""
    import orjson

    from trustscope.es import DocIndices, make_client
    from trustscope.es.rollup import SentimentRollups
    from trustscope.intake import redis_client
    from trustscope.settings import get_settings

    settings = get_settings()
    es = make_client(settings)
    rollups = SentimentRollups(es, redis_client(settings), DocIndices(settings.es_index_prefix), settings.stream_prefix)
    typer.echo(orjson.dumps(rollups.rebuild()).decode())
    es.close()


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
