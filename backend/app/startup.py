"""One-time preparation before serving: data directories and schema migrations.

Runs once per deployment start (gunicorn master's on_starting, the manage commands, or
create_app(apply_migrations=True) in tests), never in each worker.
"""

from __future__ import annotations

import logging

from app.core.config import Settings
from app.migrate import upgrade_to_head

log = logging.getLogger("app.startup")


def ensure_data_dirs(settings: Settings) -> None:
    # Best effort: a missing or read-only volume must not crash start-up (the old
    # `/frontend` PermissionError); /ready reports it instead.
    for directory in settings.data_dirs:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning(
                "cannot create data directory",
                extra={"directory": str(directory), "error": exc.strerror},
            )


def prepare_runtime(settings: Settings) -> None:
    ensure_data_dirs(settings)
    upgrade_to_head(settings.database_url)
