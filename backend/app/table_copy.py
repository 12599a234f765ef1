"""Every table's rows as JSON lines that read the same from SQLite and from PostgreSQL,
for moving the data from one engine to the other and proving nothing changed on the way.

The stream (`python3 -m app.manage dump-tables`), one JSON document per line:

    {"format": "tr4ction-tables", "version": 1, "engine": "sqlite", "revision": "0002",
     "tables": ["login_failures", "users"]}
    {"table": "users", "columns": ["id", "email", ...], "rows": 2, "sha256": "..."}
    [1, "ops@tr4ction.test", ...]                      one array per row, primary-key order
    ...                                                 the next table's header and rows
    {"end": true}

A row's text is its values normalised (datetimes as UTC ISO 8601 with microseconds and a
Z, booleans true/false, floats as Python's shortest round-trip form), compact JSON. A
table's checksum is the sha256 of its row lines, each followed by a newline, in
primary-key order: `table-checksums` computes it from either engine the same way, so a
copy SQLite -> PostgreSQL -> SQLite that changed nothing gives identical checksums.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import Connection, Table, func, inspect, select, text
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import IntegrityError

from app.models import Base

FORMAT = "tr4ction-tables"
FORMAT_VERSION = 1
# Rows per fetch from a server-side cursor.
BATCH_ROWS = 1000
# Values per multi-row INSERT, under SQLite's limit on bound parameters (32766).
BATCH_VALUES = 30_000
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class CopyRefused(Exception):
    """The stream or the target is not fit for loading; nothing was written."""


class CopyMismatch(Exception):
    """What the target holds after loading differs from the stream; rolled back."""


@dataclass(frozen=True)
class TableSum:
    rows: int
    sha256: str

    def as_dict(self) -> dict:
        return {"rows": self.rows, "sha256": self.sha256}


def tables() -> list[Table]:
    """The application's tables, parents before children (the order rows are loaded in)."""
    return list(Base.metadata.sorted_tables)


def _kind(column) -> str:
    column_type = column.type
    if isinstance(column_type, sqltypes.TypeDecorator):
        column_type = column_type.impl_instance
    for kind, types in (
        ("boolean", sqltypes.Boolean),
        ("datetime", sqltypes.DateTime),
        ("float", sqltypes.Float),
        ("integer", sqltypes.Integer),
        ("text", sqltypes.String),
    ):
        if isinstance(column_type, types):
            return kind
    # A new column type needs its normal form decided here before it can be copied.
    raise TypeError(f"{column.table.name}.{column.name}: no normal form for {column_type!r}")


def normalise(kind: str, value: object) -> object:
    if value is None:
        return None
    if kind == "datetime":
        # Naive datetimes are stored as UTC (app.models.UTCDateTime).
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime(_DATETIME_FORMAT)
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return int(value)
    if kind == "float":
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("a float that JSON cannot carry (NaN or infinity)")
        return number
    return str(value)


def restore(kind: str, value: object) -> object:
    """A normalised value back into what the column's type binds."""
    if value is None:
        return None
    if kind == "datetime":
        if not isinstance(value, str):
            raise ValueError("expected a datetime string")
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("datetime without a time zone")
        return parsed
    expected = {"boolean": bool, "integer": int, "float": (int, float), "text": str}[kind]
    if not isinstance(value, expected) or (kind == "integer" and isinstance(value, bool)):
        raise ValueError(f"expected a {kind} value")
    return float(value) if kind == "float" else value


def row_line(values: Iterable[object]) -> str:
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _ordered_rows(connection: Connection, table: Table) -> Iterator[str]:
    kinds = [_kind(column) for column in table.columns]
    order = []
    for column in table.primary_key.columns:
        # PostgreSQL sorts text by its locale; "C" is byte order, as SQLite's BINARY.
        is_text = _kind(column) == "text" and connection.dialect.name == "postgresql"
        order.append(column.collate("C") if is_text else column)
    query = select(*table.columns).order_by(*order)
    result = connection.execution_options(yield_per=BATCH_ROWS).execute(query)
    for row in result:
        yield row_line(normalise(kind, value) for kind, value in zip(kinds, row, strict=True))


def _table_sum(lines: Iterable[str]) -> TableSum:
    digest = hashlib.sha256()
    count = 0
    for line in lines:
        digest.update(line.encode() + b"\n")
        count += 1
    return TableSum(count, digest.hexdigest())


def check_schema(connection: Connection) -> None:
    """The database's tables have exactly the code's columns (else a copy would drop or
    miss some)."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    for table in tables():
        if table.name not in present:
            raise CopyRefused(f"table {table.name} is missing: migrate the database first")
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        expected = {column.name for column in table.columns}
        if columns != expected:
            raise CopyRefused(
                f"table {table.name} has columns {sorted(columns)}, the code expects "
                f"{sorted(expected)}"
            )


def checksums(connection: Connection) -> dict[str, TableSum]:
    check_schema(connection)
    return {table.name: _table_sum(_ordered_rows(connection, table)) for table in tables()}


def dump(connection: Connection, out: TextIO, *, engine: str, revision: str | None) -> None:
    """Write the stream. The connection must hold one snapshot for the two passes (the
    sums in the headers, then the rows)."""
    sums = checksums(connection)
    header = {"format": FORMAT, "version": FORMAT_VERSION, "engine": engine,
              "revision": revision, "tables": [table.name for table in tables()]}
    out.write(json.dumps(header) + "\n")
    for table in tables():
        table_header = {"table": table.name, "columns": [c.name for c in table.columns],
                        **sums[table.name].as_dict()}
        out.write(json.dumps(table_header) + "\n")
        out.writelines(line + "\n" for line in _ordered_rows(connection, table))
    out.write(json.dumps({"end": True}) + "\n")


def row_counts(connection: Connection) -> dict[str, int]:
    counts = {}
    for table in tables():
        counts[table.name] = connection.scalar(select(func.count()).select_from(table))
    return counts


def load(connection: Connection, lines: Iterable[str], *, revision: str | None) -> dict:
    """Insert the stream into an empty database at `revision`, in the caller's
    transaction (which the caller commits only if this returns). The connection must
    already keep other writers out (BEGIN IMMEDIATE on SQLite; this locks the tables on
    PostgreSQL)."""
    stream = _numbered(lines)
    header = _document(stream, "the stream's header")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CopyRefused(f"line 1: not a {FORMAT} stream (from `dump-tables`)")
    if header.get("version") != FORMAT_VERSION:
        raise CopyRefused(f"line 1: format version {header.get('version')!r}, "
                          f"this code reads {FORMAT_VERSION}")
    if header.get("revision") != revision:
        raise CopyRefused(f"the stream is from a database at migration {header.get('revision')}, "
                          f"the target is at {revision}: bring both to the same release first")
    expected = {table.name: table for table in tables()}
    if sorted(header.get("tables") or []) != sorted(expected):
        raise CopyRefused(f"line 1: the stream's tables {header.get('tables')} are not the "
                          f"code's {sorted(expected)}")
    check_schema(connection)
    if connection.dialect.name == "postgresql":
        names = ", ".join(connection.dialect.identifier_preparer.quote(t.name) for t in tables())
        connection.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
    not_empty = {name: count for name, count in row_counts(connection).items() if count}
    if not_empty:
        listed = ", ".join(f"{name} has {count} rows" for name, count in not_empty.items())
        raise CopyRefused(f"the target database is not empty ({listed}); "
                          "load-tables only fills an empty database")
    loaded: dict[str, TableSum] = {}
    announced: dict[str, TableSum] = {}
    while True:
        document = _document(stream, "a table header or the end line")
        if document == {"end": True}:
            break
        name = document.get("table") if isinstance(document, dict) else None
        if name not in expected or name in loaded:
            raise CopyRefused(f"line {stream.line}: expected a table header or the end line")
        announced[name] = _announced_sum(document, stream.line)
        loaded[name] = _load_table(connection, expected[name], document, stream)
        if loaded[name] != announced[name]:
            raise CopyRefused(f"table {name}: the rows read do not match the header's count "
                              "and sha256 (the stream was changed or cut)")
    missing = sorted(set(expected) - set(loaded))
    if missing:
        raise CopyRefused(f"the stream ends without table(s) {', '.join(missing)}")
    if next(stream, None) is not None:
        raise CopyRefused(f"line {stream.line}: data after the end line")
    if connection.dialect.name == "postgresql":
        _reset_sequences(connection)
    stored = checksums(connection)
    changed = sorted(name for name in expected if stored[name] != announced[name])
    if changed:
        raise CopyMismatch(f"after loading, table(s) {', '.join(changed)} read back "
                           "differently from the stream: nothing was kept")
    return {name: stored[name].as_dict() for name in expected}


class _numbered:
    """Lines with their number, for messages."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.line = 0

    def __iter__(self) -> _numbered:
        return self

    def __next__(self) -> str:
        text_line = next(self._lines)
        self.line += 1
        return text_line


def _document(stream: _numbered, what: str) -> object:
    try:
        text_line = next(stream)
    except StopIteration:
        raise CopyRefused(f"the stream ends early: expected {what}") from None
    try:
        return json.loads(text_line)
    except json.JSONDecodeError as exc:
        raise CopyRefused(f"line {stream.line}: not JSON ({exc.msg})") from None


def _announced_sum(header: dict, line: int) -> TableSum:
    rows, sha = header.get("rows"), header.get("sha256")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0 or not isinstance(sha, str):
        raise CopyRefused(f"line {line}: a table header needs rows and sha256")
    return TableSum(rows, sha)


def _load_table(connection: Connection, table: Table, header: dict, stream: _numbered) -> TableSum:
    columns = header.get("columns")
    if not isinstance(columns, list) or sorted(columns) != sorted(c.name for c in table.columns):
        raise CopyRefused(f"line {stream.line}: table {table.name}'s columns {columns} are not "
                          f"the code's {[c.name for c in table.columns]}")
    kinds = [_kind(table.columns[name]) for name in columns]
    rows_per_insert = max(1, BATCH_VALUES // len(columns))
    digest = hashlib.sha256()
    batch: list[dict] = []
    count = 0
    # Hashed in the code's column order, as the dump and table-checksums do.
    code_order = [columns.index(column.name) for column in table.columns]
    for _ in range(header["rows"]):
        values = _document(stream, f"a row of {table.name}")
        if not isinstance(values, list) or len(values) != len(columns):
            raise CopyRefused(f"line {stream.line}: a row of {table.name} must be an array of "
                              f"{len(columns)} values")
        try:
            restored = [restore(kind, value) for kind, value in zip(kinds, values, strict=True)]
            canonical = [normalise(kinds[i], restored[i]) for i in code_order]
        except (TypeError, ValueError) as exc:
            raise CopyRefused(f"line {stream.line}: {table.name}: {exc}") from None
        digest.update(row_line(canonical).encode() + b"\n")
        count += 1
        batch.append(dict(zip(columns, restored, strict=True)))
        if len(batch) >= rows_per_insert:
            _insert(connection, table, batch, stream.line)
            batch = []
    if batch:
        _insert(connection, table, batch, stream.line)
    return TableSum(count, digest.hexdigest())


def _insert(connection: Connection, table: Table, rows: list[dict], line: int) -> None:
    # One INSERT ... VALUES (...), (...): psycopg's executemany runs in pipeline mode and,
    # when the database refuses a row, logs a warning of its own besides the error.
    try:
        connection.execute(table.insert().values(rows))
    except IntegrityError as exc:
        # The driver's detail quotes the row (a password hash): only its class is told.
        reason = type(exc.orig).__name__
        raise CopyRefused(f"table {table.name}: the database refused a row up to line {line} "
                          f"({reason})") from None


def _reset_sequences(connection: Connection) -> None:
    """Rows came with their ids: each serial column's sequence continues after the
    largest one (SQLite needs nothing: it numbers from the largest row id)."""
    preparer = connection.dialect.identifier_preparer
    for table in tables():
        for column in table.primary_key.columns:
            if _kind(column) != "integer" or column.autoincrement is False:
                continue
            sequence = connection.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": preparer.quote(table.name), "column": column.name},
            )
            if sequence is None:
                continue
            quoted = preparer.quote(column.name)
            connection.execute(
                text(f"SELECT setval(:sequence, COALESCE(MAX({quoted}), 1), "
                     f"MAX({quoted}) IS NOT NULL) FROM {preparer.quote(table.name)}"),
                {"sequence": sequence},
            )
