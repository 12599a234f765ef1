"""Operator commands, run in the container with cwd /app:

    python3 -m app.manage seed [--reset-password] < accounts.json
    python3 -m app.manage list-users
    python3 -m app.manage check-config
    python3 -m app.manage migrate
    python3 -m app.manage revision [--code-only]
    python3 -m app.manage db-stats
    python3 -m app.manage table-checksums
    python3 -m app.manage dump-tables > tables.jsonl
    python3 -m app.manage load-tables < tables.jsonl

Data (JSON; JSON lines for dump-tables) goes to stdout; errors are one JSON line
{"error": ...} on stderr. Exit codes: 0 ok, 2 invalid input or configuration (nothing
written), 1 other failure.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import asdict

from app.core.config import ConfigError, Settings, load_settings
from app.core.logging import configure_logging

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2
# A handler's result when it wrote its own output (a stream, not one JSON document).
STREAMED = object()


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_INVALID) from None
    # stdout is for data: logs go to stderr, and only warnings, written at once so they
    # come before the command's own error line.
    configure_logging(
        settings, stream=sys.stderr, level=logging.WARNING, background=False
    )
    return settings


def _prepared_database(settings: Settings):
    from app.db import Database
    from app.startup import prepare_runtime

    prepare_runtime(settings)
    return Database(settings.database_url)


def cmd_seed(args: argparse.Namespace) -> object:
    from app.services.seeding import SeedInputError, apply_seed, parse_seed_input

    settings = _settings()
    try:
        accounts = parse_seed_input(sys.stdin.buffer.read())
    except SeedInputError as exc:
        raise CommandError(str(exc), EXIT_INVALID) from None
    db = _prepared_database(settings)
    try:
        with db.session() as session:
            summary = apply_seed(
                session, accounts, rounds=settings.BCRYPT_ROUNDS, reset_password=args.reset_password
            )
    except SeedInputError as exc:  # raised inside the transaction: it was rolled back
        raise CommandError(str(exc), EXIT_INVALID) from None
    finally:
        db.dispose()
    return asdict(summary)


def cmd_list_users(_: argparse.Namespace) -> object:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from app.db import Database

    settings = _settings()
    # The running service migrated the schema at its start: a read does not load Alembic
    # (most of this command's time) unless the schema is not there yet.
    db = Database(settings.database_url)
    try:
        return _user_list(db)
    except (OperationalError, ProgrammingError):
        db.dispose()
        db = _prepared_database(settings)
        return _user_list(db)
    finally:
        db.dispose()


def _user_list(db) -> list[dict]:
    from app import users_repo
    from app.schemas import UserOut

    with db.session() as session:
        return [
            UserOut.model_validate(u).model_dump(mode="json")
            for u in users_repo.list_users(session)
        ]


def cmd_check_config(_: argparse.Namespace) -> object:
    settings = _settings()
    return {
        "ok": True,
        "environment": settings.ENVIRONMENT,
        "debug_mode": settings.DEBUG_MODE,
        "data_dir": str(settings.DATA_DIR),
        "templates_images_dir": str(settings.TEMPLATES_IMAGES_DIR),
        "knowledge_dir": str(settings.KNOWLEDGE_DIR),
        "uploads_dir": str(settings.UPLOADS_DIR),
        "log_dir": str(settings.LOG_DIR),
        "database_url": settings.database_url_shown,
        "database_engine": settings.database_engine,
        "database_password_file": _shown_path(settings.DATABASE_PASSWORD_FILE),
        "jwt_secret_key_file": _shown_path(settings.JWT_SECRET_KEY_FILE),
        "chroma": f"{settings.CHROMA_HOST}:{settings.CHROMA_PORT}",
        "cors_origins": settings.CORS_ORIGINS,
        "jwt_secret": "ephemeral (development)" if settings.jwt_secret_is_ephemeral else "set",
        "workers": settings.WEB_CONCURRENCY,
    }


def _shown_path(path) -> str | None:
    return str(path) if path is not None else None


def cmd_revision(args: argparse.Namespace) -> object:
    """The migrations this code ships (and, unless --code-only, where the database is):
    tr4ctl records them with each release and checks them before a rollback."""
    from app.migrate import code_revisions, database_revision

    head, known = code_revisions()
    result: dict[str, object] = {"head": head, "known": known,
                                 "version": os.environ.get("BACKEND_VERSION") or None}
    if not args.code_only:
        result["database"] = database_revision(_settings().database_url)
    return result


def cmd_migrate(_: argparse.Namespace) -> object:
    _prepared_database(_settings()).dispose()
    return {"migrated": True}


def cmd_db_stats(_: argparse.Namespace) -> object:
    """What `tr4ctl db status` shows. Reads only: a database never migrated has no
    revision and no tables."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import func, inspect, select, table, text

    from app.db import describe, make_engine, sqlite_file

    settings = _settings()
    db_file = sqlite_file(settings.database_url)
    if db_file is not None and not db_file.exists():
        # Connecting would create the file: a status command changes nothing.
        import sqlite3

        return {"engine": "sqlite", "server_version": sqlite3.sqlite_version,
                "database": describe(settings.database_url), "database_size_bytes": 0,
                "revision": None, "tables": {}}
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                version = connection.scalar(text("SHOW server_version"))
                size = connection.scalar(text("SELECT pg_database_size(current_database())"))
            else:
                version = connection.scalar(text("SELECT sqlite_version()"))
                size = connection.scalar(text(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
                ))
            names = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
            rows = {name: connection.scalar(select(func.count()).select_from(table(name)))
                    for name in names}
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return {
        "engine": engine.dialect.name,
        "server_version": version,
        "database": describe(settings.database_url),
        "database_size_bytes": int(size),
        "revision": revision,
        "tables": rows,
    }


@contextmanager
def _transaction(settings: Settings, *, writes: bool):
    """One connection in one transaction, yielding (connection, migration revision).
    Reading: one consistent view of every table (repeatable read on PostgreSQL, a read
    transaction on SQLite). Writing: SQLite's write lock from the first statement, so
    no other writer slips in between a check and the commit (PostgreSQL's callers lock
    the tables they need)."""
    from alembic.runtime.migration import MigrationContext

    from app.db import make_engine

    engine = make_engine(settings.database_url, sqlite_begin="IMMEDIATE" if writes else "DEFERRED")
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql" and not writes:
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection, MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def cmd_table_checksums(_: argparse.Namespace) -> object:
    from app.table_copy import CopyRefused, checksums

    settings = _settings()
    with _transaction(settings, writes=False) as (connection, revision):
        try:
            sums = checksums(connection)
        except CopyRefused as exc:
            raise CommandError(str(exc), EXIT_INVALID) from None
    return {"engine": settings.database_engine, "revision": revision,
            "tables": {name: table_sum.as_dict() for name, table_sum in sums.items()}}


def cmd_dump_tables(_: argparse.Namespace) -> object:
    from app.table_copy import CopyRefused, dump

    settings = _settings()
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    try:
        with _transaction(settings, writes=False) as (connection, revision):
            dump(connection, out, engine=settings.database_engine, revision=revision)
    except CopyRefused as exc:
        raise CommandError(str(exc), EXIT_INVALID) from None
    finally:
        out.flush()
        out.detach()
    return STREAMED


def cmd_load_tables(_: argparse.Namespace) -> object:
    from app.table_copy import CopyMismatch, CopyRefused, load

    settings = _settings()
    # The target may be brand new: the schema first (its own transaction), then the rows.
    _prepared_database(settings).dispose()
    lines = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")
    try:
        with _transaction(settings, writes=True) as (connection, revision):
            tables = load(connection, lines, revision=revision)
    except CopyRefused as exc:
        raise CommandError(str(exc), EXIT_INVALID) from None
    except CopyMismatch as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from None
    except UnicodeDecodeError:
        raise CommandError("the stream is not UTF-8 text", EXIT_INVALID) from None
    return {"engine": settings.database_engine, "revision": revision, "tables": tables}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m app.manage", description="TR4CTION backend operator commands"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed", help="create/update accounts from JSON on stdin")
    seed.add_argument(
        "--reset-password", action="store_true", help="also set the password of existing accounts"
    )
    seed.set_defaults(handler=cmd_seed)
    sub.add_parser("list-users", help="print accounts as JSON").set_defaults(handler=cmd_list_users)
    sub.add_parser(
        "check-config", help="validate settings; non-zero exit with the reason"
    ).set_defaults(handler=cmd_check_config)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(handler=cmd_migrate)
    revision = sub.add_parser("revision", help="the code's migration head, and the database's")
    revision.add_argument("--code-only", action="store_true",
                          help="only what the code ships (no settings, no database)")
    revision.set_defaults(handler=cmd_revision)
    sub.add_parser(
        "db-stats", help="engine, server version, size, migration revision, rows per table"
    ).set_defaults(handler=cmd_db_stats)
    sub.add_parser(
        "table-checksums", help="per table: row count and sha256 of the normalised rows"
    ).set_defaults(handler=cmd_table_checksums)
    sub.add_parser(
        "dump-tables", help="every table's rows as JSON lines on stdout (see app/table_copy.py)"
    ).set_defaults(handler=cmd_dump_tables)
    sub.add_parser(
        "load-tables",
        help="load dump-tables' output from stdin into an empty database, in one transaction",
    ).set_defaults(handler=cmd_load_tables)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except CommandError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - one line for operators, not a traceback
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print(json.dumps({"error": f"{type(exc).__name__}: {first_line}"}), file=sys.stderr)
        return EXIT_FAILURE
    if result is not STREAMED:
        print(json.dumps(result))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
