"""cert commands (in progress)."""

import typer

app = typer.Typer(help="cert commands.", no_args_is_help=True)
