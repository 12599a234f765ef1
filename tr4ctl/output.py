"""All terminal output: human text to stderr, data (JSON) to stdout.

One Rich console for messages; with --json a single envelope goes to stdout, on
failure too, so scripts and monitors can always parse it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table


class Output:
    def __init__(self, *, json_mode: bool = False, verbose: bool = False):
        self.json_mode = json_mode
        self.verbose = verbose
        self.console = Console(stderr=True, highlight=False)
        self._emitted = False

    def info(self, message: str) -> None:
        self.console.print(message)

    def success(self, message: str) -> None:
        self.console.print(f"[green]✓[/green] {message}")

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]![/yellow] {message}")

    def detail(self, message: str) -> None:
        if self.verbose:
            # Commands may contain brackets: print them as they are, not as markup.
            self.console.print(message, style="dim", markup=False, soft_wrap=True)

    def error(self, message: str, hint: str | None = None, details: str | None = None) -> None:
        line = f"[red]error:[/red] {message}"
        if hint:
            line += f" [dim]({hint})[/dim]"
        self.console.print(line, soft_wrap=True)
        if details:
            self.console.print(details, markup=False, soft_wrap=True)

    def table(self, title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("" if cell is None else str(cell) for cell in row))
        self.console.print(table)

    @contextmanager
    def status(self, message: str) -> Iterator[Any]:
        # Rich falls back to no animation when stderr is not a terminal.
        if self.console.is_terminal and not self.json_mode:
            with self.console.status(message) as status:
                yield status
        else:
            self.console.print(message)
            yield None

    def emit(self, command: str, data: Any, *, ok: bool = True, errors: list[dict] | None = None,
             exit_code: int = 0) -> None:
        """Write the JSON envelope (only in --json mode; human output is the command's job)."""
        if not self.json_mode or self._emitted:
            return
        self._emitted = True
        envelope = {
            "command": command,
            "status": "ok" if ok else "error",
            "exit_code": exit_code,
            "data": data,
            "errors": errors or [],
        }
        sys.stdout.write(json.dumps(envelope, indent=2, default=str) + "\n")
        sys.stdout.flush()
