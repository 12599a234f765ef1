"""users commands (in progress)."""

import typer

app = typer.Typer(help="users commands.", no_args_is_help=True)
