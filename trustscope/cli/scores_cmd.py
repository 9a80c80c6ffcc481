"""`trustscope scores ...`: recompute the maintained verified scores from Elasticsearch.

``rebuild`` scans each platform's indexed reviews, compares the result with the live Redis state and
(unless ``--check``) swaps the recomputed state in. One JSON line per platform on stdout:
``{"platform", "reviews", "verified", "score", "agrees", "diffs"}``. Exit status 1 with ``--check``
when any platform disagrees. Run it with the indexer quiet: a document indexed during the scan of its
platform may be missed until its next revision.
"""

from __future__ import annotations

import orjson
import typer

app = typer.Typer(help="Maintained verified scores.", no_args_is_help=True)


@app.command("rebuild")
def rebuild_command(
    platform: list[str] = typer.Option(None, "--platform", "-p", help="platform id (repeatable; default: all)"),
    check: bool = typer.Option(False, "--check", help="only compare with the live state; exit 1 on disagreement"),
) -> None:
    """Recompute verified-score state from Elasticsearch and compare it with the live state."""
    from trustscope.es import DocIndices, make_client
    from trustscope.intake import redis_client
    from trustscope.scores import ScoreStore, score_view
    from trustscope.scores.rebuild import platforms_in_index, rebuild
    from trustscope.settings import get_settings

    settings = get_settings()
    es = make_client(settings)
    store = ScoreStore(redis_client(settings), settings.stream_prefix)
    index = DocIndices(settings.es_index_prefix).read_alias
    targets = list(platform) if platform else sorted(set(platforms_in_index(es, index)) | set(store.platforms()))
    disagree = 0
    for pid in targets:
        rebuilt, diffs = rebuild(store, es, index, pid, write=not check)
        view = score_view(pid, rebuilt.state, min_verified=settings.score_min_verified)
        disagree += bool(diffs)
        typer.echo(orjson.dumps({"platform": pid, "reviews": len(rebuilt.docs), "verified": view.verified,
                                 "score": view.verified_score, "agrees": not diffs,
                                 "diffs": {k: list(v) for k, v in list(diffs.items())[:20]}}).decode())
    es.close()
    if check and disagree:
        raise typer.Exit(1)
