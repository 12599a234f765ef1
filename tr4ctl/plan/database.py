"""Which database the backend uses, as data: its URL and, on PostgreSQL, its name."""

from __future__ import annotations

from tr4ctl.config.model import Config
from tr4ctl.facts import BACKEND_DATA_DIR, POSTGRES, POSTGRES_DB, POSTGRES_PORT, POSTGRES_USER

DEFAULT_SQLITE_URL = f"sqlite:///{BACKEND_DATA_DIR}/tr4ction.db"


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
