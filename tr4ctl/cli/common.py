"""What every command module shares: the Runtime the global options built."""

from __future__ import annotations

import typer

from tr4ctl.runtime import Runtime


def runtime(ctx: typer.Context) -> Runtime:
    return ctx.find_root().obj
