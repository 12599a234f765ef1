"""nginx commands (in progress)."""

import typer

app = typer.Typer(help="nginx commands.", no_args_is_help=True)
