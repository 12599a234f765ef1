"""Engine and session factory for one database: a SQLite file or a PostgreSQL server.

URLs may be strings or SQLAlchemy URL objects; the latter carry the password read from
DATABASE_PASSWORD_FILE, and their str()/repr() mask it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from app import rules

# A server that does not answer makes /ready and start-up fail in seconds, not hang.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
# Per worker process. The default server allows 100 connections: 8 workers of 10 fit
# beside the manage commands and backups.
POSTGRES_POOL_SIZE = 5
POSTGRES_POOL_OVERFLOW = 5


def driver_url(url: str | URL) -> URL:
    """The URL with its driver named: a bare postgresql:// means psycopg 3."""
    url = make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername=rules.POSTGRES_DRIVER_SCHEME)
    return url


def engine_name(url: str | URL) -> str:
    """"sqlite" or "postgresql"."""
    return make_url(url).get_backend_name()


def describe(url: str | URL) -> str:
    """Which database, for messages: engine and place, never the password."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite at {url.database or ':memory:'}"
    return f"postgresql at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def sqlite_file(url: str | URL) -> Path | None:
    url = make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def make_engine(url: str | URL, *, sqlite_begin: str | None = None) -> Engine:
    """sqlite_begin: "DEFERRED" or "IMMEDIATE" makes every SQLite transaction start with
    that BEGIN (a consistent snapshot for reads, the write lock taken up front). Without
    it, pysqlite only begins a transaction at the first write, which the service relies
    on: its reads never hold a snapshot that a later write would have to upgrade."""
    url = driver_url(url)
    # hide_parameters: SQL errors would otherwise carry bound values (hashes) into logs.
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 5}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if sqlite_begin is not None:
            explicit_sqlite_transactions(engine, sqlite_begin)
        return engine
    return create_engine(
        url,
        hide_parameters=True,
        # A pooled connection dies with a PostgreSQL restart; checking it on checkout
        # costs one round trip and spares the next request an error.
        pool_pre_ping=True,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_POOL_OVERFLOW,
        pool_timeout=10,
        connect_args={
            "connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS,
            "application_name": "tr4ction-backend",
        },
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers in other workers proceed while one writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def explicit_sqlite_transactions(engine: Engine, begin: str) -> None:
    """Every transaction starts with `BEGIN <begin>` and covers DDL too (SQLAlchemy's
    documented recipe: pysqlite emits no BEGIN itself, SQLAlchemy does)."""
    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql(f"BEGIN {begin}")


class Database:
    def __init__(self, url: str | URL) -> None:
        self.url = driver_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def engine_name(self) -> str:
        return self.url.get_backend_name()

    def describe(self) -> str:
        return describe(self.url)

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()
