"""<project-dir>/.tr4ctl/audit.jsonl: one JSON line per changing command, appended and
never rewritten. The one writer of it (README "Audit log")."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime

from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.releases import audit_line

AUDIT = "audit.jsonl"


def record(paths: ProjectPaths, event: str, now: datetime | None = None,
           **details: object) -> None:
    path = paths.rendered_dir / AUDIT
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as log:
        log.write(audit_line(event, now or datetime.now(UTC), operator(), **details))
        log.flush()
        os.fsync(log.fileno())


def operator() -> str:
    """Who ran the command: user@host (SUDO_USER when run through sudo)."""
    user = os.environ.get("SUDO_USER") or _login()
    return f"{user}@{socket.gethostname()}"


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
