"""All terminal output: data (tables, the --json envelope) to stdout, messages to stderr.

Tables are data: `tr4ctl status | grep nginx` must find nginx. On a terminal they are
Rich tables fitted to its width (plan/table_fit.py: what every row shares goes to the
title, long identifiers lose their middle; `--wide` keeps every value whole); anywhere
else plain aligned columns, never cut, never wrapped, so a backup's name or an undo
command can be copied from them. Under --json the envelope
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

from tr4ctl.session_env import WORKSTATION_TERMINAL

if TYPE_CHECKING:
    from rich.console import Console

# A step shorter than this stays silent off a terminal; a longer one says what it does.
PROGRESS_AFTER_SECONDS = 1.0
PLAIN_GAP = "  "
# What Rich reads as a markup tag ("[green]", "[/dim]"); "[::]" or "[1]" are text.
MARKUP_TAG = re.compile(r"(?<!\\)\[/?[a-z#@][^\[\]]*\]")


def escaped(text: str) -> str:
    """Text shown as it is where markup is read (`tr4ctl[report]`, a path in brackets)."""
    return MARKUP_TAG.sub(lambda tag: "\\" + tag.group(0), text)


def plain(markup: str) -> str:
    """Rich markup as the text it shows."""
    return MARKUP_TAG.sub("", markup).replace("\\[", "[")


def is_terminal(stream: TextIO) -> bool:
    # WORKSTATION_TERMINAL: set by the workstation for a forwarded command whose output
    # reaches its terminal over the session's pipes (a pty only for prompts).
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):
        return False
    return stream in (sys.stdout, sys.stderr) and os.environ.get(WORKSTATION_TERMINAL) == "1"


class Output:
    def __init__(self, *, json_mode: bool = False, verbose: bool = False, wide: bool = False):
        self.json_mode = json_mode
        self.verbose = verbose
        self.wide = wide
        self.drawing_live = False  # a live table owns the terminal: progress stays silent
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

    @property
    def fits_terminal(self) -> bool:
        """stdout is a terminal and output is fitted to it (no --wide, no --json)."""
        return is_terminal(sys.stdout) and not self.wide and not self.json_mode

    def say(self, message: str, *, markup: bool = True, style: str | None = None) -> None:
        """One message on stderr (Rich markup unless markup=False)."""
        if self.fancy:
            self.console.print(message, markup=markup, style=style, highlight=False)
            return
        sys.stderr.write((plain(message) if markup else message) + "\n")
        sys.stderr.flush()

    def info(self, message: str) -> None:
        self.say(escaped(message))

    def success(self, message: str) -> None:
        self.say(f"[green]✓[/green] {escaped(message)}")

    def warn(self, message: str) -> None:
        self.say(f"[yellow]![/yellow] {escaped(message)}")

    def failure(self, message: str) -> None:
        self.say(f"[red]✗[/red] {escaped(message)}")

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
        stream = sys.stderr if self.json_mode else sys.stdout
        if is_terminal(stream):
            target = self.console if self.json_mode else self.data_console
            _print_whole(target, self.drawn_table(title, columns, rows, wrap=wrap,
                                                  width=target.width))
            return
        texts = [["" if cell is None else str(cell) for cell in row] for row in rows]
        if title and not self.json_mode:
            self.say(title, markup=False)  # context for people, not data
        _plain(stream, title if self.json_mode else None, columns,
               [[plain(cell) for cell in row] for row in texts])

    def drawn_table(self, title: str | None, columns: list[str], rows: list[list[Any]], *,
                    wrap: tuple[str, ...] = (), width: int | None = None):
        """The Rich renderable a terminal shows for this table (fitted unless --wide)."""
        from rich.console import Group
        from rich.text import Text

        texts = [["" if cell is None else str(cell) for cell in row] for row in rows]
        width = width or self.data_console.width
        limits: dict[int, int] = {}
        if not self.wide:
            title, columns, texts, limits = _fitted(title, columns, texts, width, wrap)
        table = _boxed(columns, [[Text.from_markup(cell) for cell in row] for row in texts],
                       wrap, limits)
        # Above the table, not its title: Rich folds a title to the table's width. Broken
        # at spaces here, so that no line is wider than the terminal (a live redraw counts
        # lines).
        heading = [Text(line, no_wrap=True, overflow="ignore")
                   for line in _title_lines(title, None if self.wide else width)]
        return Group(*heading, table)

    @contextmanager
    def progress(self, message: str) -> Iterator[Callable[[str], None]]:
        """A step that may take a while. On a terminal a spinner; elsewhere one line, and
        only once the step has run for a second. Yields a function to update the text."""
        if self.drawing_live:
            yield lambda _new: None
            return
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


def _fitted(title: str | None, columns: list[str], cells: list[list[str]], width: int,
            wrap: tuple[str, ...]):
    """The table as it fits `width`, and the most each prose column may take; a shortened
    cell loses its markup (plain text)."""
    from tr4ctl.plan.table_fit import fit_table

    fitted = fit_table(columns, [[plain(cell) for cell in row] for row in cells], width,
                       wrap=wrap)
    if not fitted.fits:
        return title, columns, cells, {}
    if not fitted.notes and not fitted.shortened:
        return title, columns, cells, fitted.prose_widths
    rows = []
    for original, shown in zip(cells, fitted.rows, strict=True):
        kept = [original[index] for index in fitted.kept]
        rows.append([cell if plain(cell) == text else _escaped(text)
                     for cell, text in zip(kept, shown, strict=True)])
    parts = [*([title] if title else []), *fitted.notes,
             *(["(--wide: whole values)"] if fitted.shortened else [])]
    return "\n".join(parts), fitted.columns, rows, fitted.prose_widths


def _title_lines(title: str | None, width: int | None) -> list[str]:
    """The title's parts (one per line as given) packed two spaces apart into lines no
    wider than `width`; a part wider than that alone is broken at its spaces."""
    import textwrap

    if not title:
        return []
    if width is None:
        return title.split("\n")
    lines: list[str] = []
    for part in title.split("\n"):
        for piece in textwrap.wrap(part, width, break_long_words=False,
                                   break_on_hyphens=False) or [""]:
            if lines and len(lines[-1]) + 2 + len(piece) <= width:
                lines[-1] += "  " + piece
            else:
                lines.append(piece)
    return lines


def _escaped(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _boxed(columns: list[str], cells: list[list[Any]], wrap: tuple[str, ...],
           limits: dict[int, int]):
    from rich.table import Table

    table = Table()
    for index, column in enumerate(columns):
        widest = max((row[index].cell_len for row in cells), default=0)
        if column in wrap:
            table.add_column(column, max_width=limits.get(index), overflow="fold")
        else:
            table.add_column(column, no_wrap=True, min_width=max(widest, len(column)))
    for row in cells:
        table.add_row(*row)
    return table


def _print_whole(console: Console, drawn) -> None:
    """Wider than the terminal rather than cutting an identifier (a table that cannot
    fit, or --wide): the terminal folds the line, and a copied name stays whole."""
    from rich.measure import Measurement

    needed = Measurement.get(console, console.options.update(max_width=10_000), drawn).minimum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(drawn)
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
