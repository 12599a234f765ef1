"""Alembic environment: the URL comes from the caller (app.migrate) or the settings."""

from alembic import context
from app.db import driver_url, explicit_sqlite_transactions
from app.models import Base
from sqlalchemy import URL, create_engine, make_url, pool, text

config = context.config
target_metadata = Base.metadata
# Any constant both replicas agree on: PostgreSQL advisory locks are keyed by a bigint.
MIGRATION_LOCK_KEY = 0x7472346374696F6E  # "tr4ction"


def _database_url() -> str | URL:
    # A URL object when it carries the password (DATABASE_PASSWORD_FILE).
    url = config.attributes.get("database_url")
    if url:
        return driver_url(url)
    from app.core.config import load_settings

    return load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _database_url()
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    engine = create_engine(url, poolclass=pool.NullPool, hide_parameters=True,
                           connect_args={"timeout": 30} if is_sqlite else {})
    if is_sqlite:
        # The whole migration in one write transaction, DDL included: a second process
        # (a manage command while the service starts) waits, then finds the schema at
        # head, and a failed migration leaves nothing half done.
        explicit_sqlite_transactions(engine, "IMMEDIATE")
    with engine.connect() as connection, connection.begin():
        if not is_sqlite:
            # Replicas starting together migrate one after the other: the second waits
            # here, then finds the schema at head. Released at commit.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        # Inside our transaction, Alembic opens none of its own: one commit at the end.
        # render_as_batch: SQLite can only ALTER tables by copying them.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
