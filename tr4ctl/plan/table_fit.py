"""How a table fits a terminal's width (pure: text in, text out).

Rich's default box costs 3 columns per column (a border and a space each side) plus one.
When the table is wider than the terminal, in this order, and only as far as needed:
1. an identifier column whose every row holds the same value goes to the title
   (`env=dev`);
2. a bind address every row's ports share goes to the title (`ports on 127.0.0.1`), and
   the default protocol's `/tcp` goes with it;
3. the widest identifier column but the first (the row's name) is shortened in its
   middle, keeping both ends (a name's start and a tag's end are what tell two images
   apart), down to a floor.
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
    if _needed(columns, rows, wrap) > width:
        kept = _shared_columns_hoisted(columns, rows, wrap, notes)
        columns, rows = [columns[i] for i in kept], [[row[i] for i in kept] for row in rows]
    if _needed(columns, rows, wrap) > width:
        rows = _hoist_bind_addresses(columns, rows, notes)
    shortened = False
    while (excess := _needed(columns, rows, wrap) - width) > 0:
        index = _widest_shortenable(columns, rows, wrap)
        if index is None:
            break
        current = _column_width(columns, rows, index)
        target = max(_floor(columns[index]), current - excess, _runner_up(columns, rows, wrap, index))
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


def _floor(column: str) -> int:
    return max(SHORTEST, len(column))


def _widest_shortenable(columns, rows, wrap) -> int | None:
    candidates = [(index, _column_width(columns, rows, index)) for index, column in
                  enumerate(columns) if index > 0 and column not in wrap]
    candidates = [(index, w) for index, w in candidates if w > _floor(columns[index])]
    if not candidates:
        return None
    return max(candidates, key=lambda item: item[1])[0]


def _runner_up(columns, rows, wrap, skip: int) -> int:
    """Shorten the widest column no further than the next widest in one step, so the
    cut spreads over the long columns instead of eating one."""
    others = [_column_width(columns, rows, index) for index, column in enumerate(columns)
              if index != skip and column not in wrap]
    return max(others, default=0)


def _shared_columns_hoisted(columns, rows, wrap, notes) -> list[int]:
    """The columns left once those every row shares are noted for the title."""
    if len(rows) < 2:
        return list(range(len(columns)))
    keep = []
    for index, column in enumerate(columns):
        values = {row[index] for row in rows}
        shared = len(values) == 1 and next(iter(values)) not in EMPTY_CELLS
        if index > 0 and column not in wrap and shared:
            notes.append(f"{column}={next(iter(values))}")
        else:
            keep.append(index)
    return keep


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
