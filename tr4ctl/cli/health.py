"""health, bench, verify (in progress)."""

import typer


def register(app: typer.Typer) -> None:
    pass
