"""`trustscope integrity ...` commands (placeholder until its owner fills it)."""

import typer

app = typer.Typer(help="integrity commands", no_args_is_help=True)
