"""Bring the database schema to the newest Alembic revision."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from sqlalchemy import URL

from app.core.config import APP_ROOT
from app.db import driver_url, sqlite_file

MIGRATIONS_DIR = APP_ROOT / "migrations"
log = logging.getLogger("app.migrate")


def alembic_config(database_url: str | URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option: ini interpolation would mangle '%', and
    # a URL object keeps its password out of every string.
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str | URL) -> None:
    db_file = sqlite_file(database_url)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "head")
    log.info("database schema at head")


def code_revisions() -> tuple[str | None, list[str]]:
    """(head, every revision) of the migrations this code ships, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    ordered = [script.revision for script in scripts.walk_revisions()][::-1]
    return scripts.get_current_head(), ordered


def database_revision(database_url: str | URL) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    engine = create_engine(driver_url(database_url), poolclass=pool.NullPool,
                           hide_parameters=True)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
