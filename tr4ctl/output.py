"""All terminal output: data (tables, the --json envelope) to stdout, messages to stderr.

Tables are data: `tr4ctl status | grep nginx` must find nginx. On a terminal they are
Rich tables; anywhere else plain aligned columns, never cut, never wrapped, so a
backup's name or an undo command can be copied from them. Under --json the envelope
is stdout's only content, on failure too, and tables go to stderr for the person
watching.

Rich is imported only when a terminal shows the output: a command in a script or a
monitor (most `status` calls) writes plain text and skips its ~30-80 ms import.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

# A step shorter than this stays silent off a terminal; a longer one says what it does.
PROGRESS_AFTER_SECONDS = 1.0
PLAIN_GAP = "  "
# What Rich reads as a markup tag ("[green]", "[/dim]"); "[::]" or "[1]" are text.
MARKUP_TAG = re.compile(r"(?<!\\)\[/?[a-z#@][^\[\]]*\]")


def plain(markup: str) -> str:
    """Rich markup as the text it shows."""
    return MARKUP_TAG.sub("", markup).replace("\\[", "[")


# Set by the workstation for a forwarded command whose output reaches its terminal over
# the session's pipes (plan/remote_call.py: a pty only for prompts): shown as on a terminal.
WORKSTATION_TERMINAL = "TR4CTL_WORKSTATION_TERMINAL"


def is_terminal(stream: TextIO) -> bool:
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):
        return False
    return stream in (sys.stdout, sys.stderr) and os.environ.get(WORKSTATION_TERMINAL) == "1"


class Output:
    def __init__(self, *, json_mode: bool = False, verbose: bool = False):
        self.json_mode = json_mode
        self.verbose = verbose
        self._console: Console | None = None
        self._data: Console | None = None
        self._emitted = False

    @property
    def console(self) -> Console:
        """stderr through Rich (imported here, on first use)."""
        if self._console is None:
            from rich.console import Console

            # soft_wrap: a message is never broken into lines, so a path or a command in
            # it stays whole however narrow the terminal (the terminal folds it).
            self._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._console

    @property
    def data_console(self) -> Console:
        if self._data is None:
            from rich.console import Console

            self._data = Console(highlight=False, soft_wrap=True)
        return self._data

    @property
    def fancy(self) -> bool:
        """stderr is a terminal: colours, spinners, boxed tables."""
        return is_terminal(sys.stderr)

    def say(self, message: str, *, markup: bool = True, style: str | None = None) -> None:
        """One message on stderr (Rich markup unless markup=False)."""
        if self.fancy:
            self.console.print(message, markup=markup, style=style, highlight=False)
            return
        sys.stderr.write((plain(message) if markup else message) + "\n")
        sys.stderr.flush()

    def info(self, message: str) -> None:
        self.say(message)

    def success(self, message: str) -> None:
        self.say(f"[green]✓[/green] {message}")

    def warn(self, message: str) -> None:
        self.say(f"[yellow]![/yellow] {message}")

    def failure(self, message: str) -> None:
        self.say(f"[red]✗[/red] {message}")

    def detail(self, message: str) -> None:
        if self.verbose:
            # Commands may contain brackets: print them as they are, not as markup.
            self.say(message, markup=False, style="dim")

    def error(self, message: str, hint: str | None = None, details: str | None = None) -> None:
        if self.fancy:
            from rich.text import Text

            line = Text.assemble(("error:", "red"), " ", message)
            if hint:
                line.append(f" ({hint})", style="dim")
            self.console.print(line)
        else:
            self.say(f"error: {message}" + (f" ({hint})" if hint else ""), markup=False)
        if details:
            self.say(details, markup=False)

    def table(self, title: str | None, columns: list[str], rows: list[list[Any]], *,
              wrap: tuple[str, ...] = ()) -> None:
        """Cells are Rich markup. Only the `wrap` columns (prose: a reason, a fix) may be
        folded on a narrow terminal; every other cell is an identifier and kept whole."""
        texts = [["" if cell is None else str(cell) for cell in row] for row in rows]
        stream = sys.stderr if self.json_mode else sys.stdout
        if is_terminal(stream):
            from rich.text import Text

            target = self.console if self.json_mode else self.data_console
            _boxed(target, title, columns,
                   [[Text.from_markup(cell) for cell in row] for row in texts], wrap)
            return
        if title and not self.json_mode:
            self.say(title, markup=False)  # context for people, not data
        _plain(stream, title if self.json_mode else None, columns,
               [[plain(cell) for cell in row] for row in texts])

    @contextmanager
    def progress(self, message: str) -> Iterator[Callable[[str], None]]:
        """A step that may take a while. On a terminal a spinner; elsewhere one line, and
        only once the step has run for a second. Yields a function to update the text."""
        if self.fancy and not self.json_mode:
            with self.console.status(message) as status:
                yield status.update
            return
        text = [message]
        timer = threading.Timer(PROGRESS_AFTER_SECONDS,
                                lambda: self.say(f"… {text[0]}", markup=False))
        timer.daemon = True
        timer.start()
        try:
            yield lambda new: text.__setitem__(0, new)
        finally:
            timer.cancel()

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
        self.write_json(envelope, indent=2)

    def write_json(self, document: Any, *, indent: int | None = None) -> None:
        """One JSON document (or, unindented, one JSON line) on stdout."""
        sys.stdout.write(json.dumps(document, indent=indent, default=str) + "\n")
        sys.stdout.flush()


def _boxed(console: Console, title: str | None, columns: list[str], cells: list[list[Any]],
           wrap: tuple[str, ...]) -> None:
    from rich.measure import Measurement
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        widest = max((row[index].cell_len for row in cells), default=0)
        if column in wrap:
            table.add_column(column)
        else:
            table.add_column(column, no_wrap=True, min_width=max(widest, len(column)))
    for row in cells:
        table.add_row(*row)
    # Wider than the terminal rather than cutting an identifier: the terminal folds the
    # line, and a copied name stays whole.
    needed = Measurement.get(console, console.options.update(max_width=10_000), table).minimum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(table)
    finally:
        console.width = width


def _plain(out: TextIO, title: str | None, columns: list[str], cells: list[list[str]]) -> None:
    lines = [list(columns), *cells]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    if title:
        out.write(title + "\n")
    for line in lines:
        padded = [value.ljust(widths[i]) for i, value in enumerate(line[:-1])] + line[-1:]
        out.write(PLAIN_GAP.join(padded).rstrip() + "\n")
    out.flush()
