"""`trustscope model ...` commands (placeholder until its owner fills it)."""

import typer

app = typer.Typer(help="model commands", no_args_is_help=True)
