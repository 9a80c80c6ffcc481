"""Entry point of the ``trustscope`` console script.

Each command group lives in its own module and imports heavy libraries (torch) only inside the
command, so ``trustscope --help`` stays fast.
"""

from __future__ import annotations

import typer

from trustscope.cli import keys_cmd  # noqa: I001 - one line per command group eases merging
from trustscope.cli import alerts_cmd  # noqa: I001
from trustscope.cli import pipeline_cmd  # noqa: I001
from trustscope.cli import admin_cmd, import_cmd, integrity_cmd, model_cmd, poll_cmd, scores_cmd, sentiment_cmd
from trustscope.cli import rumour_cmd  # noqa: I001

app = typer.Typer(help="TrustScope: trustworthy signals about Chinese internet-finance platforms.",
                  no_args_is_help=True)
app.add_typer(sentiment_cmd.app, name="sentiment")
app.add_typer(model_cmd.app, name="model")
app.add_typer(integrity_cmd.app, name="integrity")
app.add_typer(scores_cmd.app, name="scores")
app.add_typer(rumour_cmd.app, name="rumour")
app.add_typer(admin_cmd.es_app, name="es")
app.add_typer(admin_cmd.platforms_app, name="platforms")
app.add_typer(pipeline_cmd.app, name="pipeline")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(alerts_cmd.app, name="alerts")
app.command("import")(import_cmd.import_command)
app.command("poll")(poll_cmd.poll)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
