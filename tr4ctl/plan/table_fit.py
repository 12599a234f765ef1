"""How a table fits a terminal's width (pure: text in, text out).

Rich's default box costs 3 columns per column (a border and a space each side) plus one.
When the table is wider than the terminal, in this order, and only as far as needed:
1. identifier columns whose every row holds one value go to the title (`env=dev`), the
   widest first;
2. a bind address every row's ports share goes to the title (`ports on 127.0.0.1`), and
   the default protocol's `/tcp` goes with it;
3. UTC times lose their seconds and zone (`times UTC` in the title);
4. the widest identifier column is shortened in its middle, keeping both ends (a name's
   start and a tag's end are what tell two images apart), down to a floor; the first
   column (the row's name) only when no other is left, times never.
Prose columns (`wrap`) are folded by Rich instead, within the width left to them. A table
that still cannot fit is left whole: the terminal folds it, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ELLIPSIS = "…"
SHORTEST = 8  # an identifier column is never shortened below this (or its header)
PROSE_FLOOR = 16
PER_COLUMN = 3
EDGE = 1
ADDRESS_PREFIX = re.compile(r"^(?P<address>\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(?=\d)")
ITEM_SEPARATOR = ", "
EMPTY_CELLS = ("", "-")
UTC_TIME = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})[T ](?P<minute>\d{2}:\d{2})"
                      r"(?::\d{2}(?:\.\d+)?)?(?:\+00:00|Z)$")
FIRST_COLUMN_FLOOR = 24


@dataclass(frozen=True)
class FittedTable:
    notes: list[str]  # for the title line, in the order they were taken
    kept: list[int]  # which of the given columns are still columns
    columns: list[str]
    rows: list[list[str]]
    shortened: bool  # some cell lost its middle: the whole value is one --wide away
    fits: bool
    prose_widths: dict[int, int]  # the most each prose column may take (fitted index)


def fit_table(columns: list[str], rows: list[list[str]], width: int, *,
              wrap: tuple[str, ...] = ()) -> FittedTable:
    kept = list(range(len(columns)))
    columns, rows = list(columns), [list(row) for row in rows]
    notes: list[str] = []
    while _needed(columns, rows, wrap) > width:
        index = _widest_shared(columns, rows, wrap, width)
        if index is None:
            break
        notes.append(f"{columns[index]}={rows[0][index]}")
        del kept[index], columns[index]
        rows = [row[:index] + row[index + 1:] for row in rows]
    if _needed(columns, rows, wrap) > width:
        rows = _hoist_bind_addresses(columns, rows, notes)
    if _needed(columns, rows, wrap) > width:
        rows = _times_to_the_minute(columns, rows, notes)
    shortened = False
    while (excess := _needed(columns, rows, wrap) - width) > 0:
        index = _widest_shortenable(columns, rows, wrap)
        if index is None:
            break
        current = _column_width(columns, rows, index)
        target = max(_floor(columns, index), current - excess,
                     _runner_up(columns, rows, wrap, index))
        if target >= current:
            target = current - 1
        rows = [[middle_cut(cell, target) if i == index else cell for i, cell in enumerate(row)]
                for row in rows]
        shortened = True
    spare = width - _needed(columns, rows, wrap)
    prose_widths = {}
    for index, column in enumerate(columns):
        if column in wrap:
            floor = _prose_floor(column)
            prose_widths[index] = min(_column_width(columns, rows, index),
                                      floor + max(spare, 0))
            spare -= prose_widths[index] - floor
    return FittedTable(notes, kept, columns, rows, shortened, spare >= 0, prose_widths)


def middle_cut(text: str, width: int) -> str:
    """`tr4ction/backend:817a34e29040` in 19 columns: `tr4ctio…17a34e29040`."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = (width - 1) * 2 // 5
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def _needed(columns: list[str], rows: list[list[str]], wrap: tuple[str, ...]) -> int:
    total = EDGE
    for index, column in enumerate(columns):
        widest = _column_width(columns, rows, index)
        total += PER_COLUMN + (min(widest, _prose_floor(column)) if column in wrap else widest)
    return total


def _column_width(columns: list[str], rows: list[list[str]], index: int) -> int:
    return max([len(columns[index]), *(len(row[index]) for row in rows)])


def _prose_floor(column: str) -> int:
    return max(PROSE_FLOOR, len(column))


def _floor(columns: list[str], index: int) -> int:
    return max(FIRST_COLUMN_FLOOR if index == 0 else SHORTEST, len(columns[index]))


def _widest_shortenable(columns, rows, wrap) -> int | None:
    """The widest identifier column above its floor; the first (the row's name) only
    when no other is left, and never a column of times (cut, a time means nothing)."""
    candidates = [(index, _column_width(columns, rows, index)) for index, column in
                  enumerate(columns) if column not in wrap and not _is_times(rows, index)]
    candidates = [(index, w) for index, w in candidates if w > _floor(columns, index)]
    later = [item for item in candidates if item[0] > 0]
    if not candidates:
        return None
    return max(later or candidates, key=lambda item: item[1])[0]


def _is_times(rows, index: int) -> bool:
    cells = [row[index] for row in rows if row[index] not in EMPTY_CELLS]
    return bool(cells) and all(re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", c)
                               for c in cells)


def _runner_up(columns, rows, wrap, skip: int) -> int:
    """Shorten the widest column no further than the next widest in one step, so the
    cut spreads over the long columns instead of eating one."""
    others = [_column_width(columns, rows, index) for index, column in enumerate(columns)
              if index not in (0, skip) and column not in wrap and not _is_times(rows, index)]
    return max(others, default=0)


def _widest_shared(columns, rows, wrap, width: int) -> int | None:
    """The widest identifier column (not the first) whose every row holds one value
    short enough for a title line."""
    shared = []
    for index, column in enumerate(columns):
        values = {row[index] for row in rows}
        value = values.pop() if len(values) == 1 else ""
        if (index > 0 and column not in wrap and value not in EMPTY_CELLS
                and len(column) + 1 + len(value) <= width):
            shared.append((_column_width(columns, rows, index), index))
    return max(shared)[1] if shared else None


def _times_to_the_minute(columns, rows, notes):
    """`2026-12-05T00:26:29+00:00` as `2026-12-05 00:26` in a column of UTC times."""
    for index in range(len(columns)):
        cells = [row[index] for row in rows if row[index] not in EMPTY_CELLS]
        if not cells or not all(UTC_TIME.match(cell) for cell in cells):
            continue
        if "times UTC" not in notes:
            notes.append("times UTC")
        rows = [[UTC_TIME.sub(r"\g<day> \g<minute>", cell) if i == index else cell
                 for i, cell in enumerate(row)] for row in rows]
    return rows


def _hoist_bind_addresses(columns, rows, notes):
    for index, column in enumerate(columns):
        items = [item for row in rows if row[index] not in EMPTY_CELLS
                 for item in row[index].split(ITEM_SEPARATOR)]
        matches = [ADDRESS_PREFIX.match(item) for item in items]
        if not items or not all(matches):
            continue
        addresses = {match["address"] for match in matches}
        if len(addresses) != 1:
            continue
        address = addresses.pop()
        notes.append(f"{column} on {address}")
        rows = [[_without_address(cell) if i == index else cell for i, cell in enumerate(row)]
                for row in rows]
    return rows


def _without_address(cell: str) -> str:
    if cell in EMPTY_CELLS:
        return cell
    items = [ADDRESS_PREFIX.sub("", item).removesuffix("/tcp")
             for item in cell.split(ITEM_SEPARATOR)]
    return ITEM_SEPARATOR.join(items)
