"""Which database the backend uses, as data: its URL and, on PostgreSQL, its name."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from tr4ctl.config.model import Config
from tr4ctl.facts import (
    BACKEND_APP_DIR,
    BACKEND_DATA_DIR,
    POSTGRES,
    POSTGRES_DB,
    POSTGRES_PORT,
    POSTGRES_USER,
    SQLITE,
)

DEFAULT_SQLITE_URL = f"sqlite:///{BACKEND_DATA_DIR}/tr4ction.db"


@dataclass(frozen=True)
class DatabaseRecord:
    """The database a stack's data lives in: its engine and the backend's URL of it."""

    engine: str  # sqlite or postgres
    url: str

    def as_dict(self) -> dict[str, str]:
        return {"engine": self.engine, "url": self.url}

    def same_as(self, other: DatabaseRecord) -> bool:
        return self.engine == other.engine and same_url(self.url, other.url)


def same_url(a: str, b: str) -> bool:
    """postgresql://x and postgresql+psycopg://x are the same database."""
    return _normal(a) == _normal(b)


def _normal(url: str) -> str:
    scheme, sep, rest = url.strip().partition("://")
    scheme = scheme.split("+", 1)[0].lower()
    rest = rest.split("?", 1)[0]
    if scheme == SQLITE and rest.startswith("/"):
        # sqlite:///data/x.db is relative to the backend's working directory.
        path = rest[1:]
        rest = "/" + posixpath.normpath(posixpath.join(BACKEND_APP_DIR, path))
    return scheme + sep + rest


def engine_of(url: str) -> str:
    return POSTGRES if url.strip().lower().startswith("postgres") else SQLITE


def configured_database(config: Config) -> DatabaseRecord:
    """The database this configuration would run the backend on."""
    return DatabaseRecord(config.database, current_url(config))


def database_of_environment(env: Mapping[str, str]) -> DatabaseRecord:
    """The database of a backend container, from its environment (`docker inspect`)."""
    url = env.get("DATABASE_URL") or DEFAULT_SQLITE_URL
    return DatabaseRecord(engine_of(url), url)


def database_of_rendered(compose_text: str, backend_env: Mapping[str, str | None]
                         ) -> DatabaseRecord:
    """The database the last rendered compose file gave the backend: its `environment`
    wins over its env file (backend.env), as compose has it."""
    for line in compose_text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key == "DATABASE_URL":
            url = value.strip().strip('"')
            return DatabaseRecord(engine_of(url), url)
    url = backend_env.get("DATABASE_URL") or DEFAULT_SQLITE_URL
    return DatabaseRecord(engine_of(url), url)


def postgres_url(database: str) -> str:
    """The backend's URL of a database on the stack's PostgreSQL (never a password)."""
    return f"postgresql+psycopg://{POSTGRES_USER}@postgres:{POSTGRES_PORT}/{database}"


def current_url(config: Config) -> str:
    """.env's DATABASE_URL (written by `tr4ctl db use`), else the stack's default."""
    url = config.backend_values.get("DATABASE_URL")
    if url:
        return url
    return postgres_url(POSTGRES_DB) if config.database == POSTGRES else DEFAULT_SQLITE_URL


def postgres_database(url: str) -> str:
    """postgresql+psycopg://user@host:5432/name?x=y -> name"""
    return url.rsplit("/", 1)[-1].split("?", 1)[0] or POSTGRES_DB
