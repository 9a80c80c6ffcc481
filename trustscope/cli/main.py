"""Entry point of the ``trustscope`` console script.

Each command group lives in its own module and imports heavy libraries (torch) only inside the
command, so ``trustscope --help`` stays fast.
"""

from __future__ import annotations

import typer

from trustscope.cli import admin_cmd, import_cmd, integrity_cmd, model_cmd, poll_cmd, sentiment_cmd
from trustscope.cli import rumour_cmd

app = typer.Typer(help="TrustScope: trustworthy signals about Chinese internet-finance platforms.",
                  no_args_is_help=True)
app.add_typer(sentiment_cmd.app, name="sentiment")
app.add_typer(model_cmd.app, name="model")
app.add_typer(integrity_cmd.app, name="integrity")
app.add_typer(rumour_cmd.app, name="rumour")
app.add_typer(admin_cmd.es_app, name="es")
app.add_typer(admin_cmd.platforms_app, name="platforms")
app.command("import")(import_cmd.import_command)
app.command("poll")(poll_cmd.poll)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
