"""`trustscope sentiment ...` commands (placeholder until its owner fills it)."""

import typer

app = typer.Typer(help="sentiment commands", no_args_is_help=True)
