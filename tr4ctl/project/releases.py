"""<project-dir>/.tr4ctl/releases.json (the backend's releases, format-versioned) and
audit.jsonl (every deploy and rollback, one JSON line each, never rewritten)."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import datetime
from pathlib import Path

from tr4ctl.errors import OperationFailed
from tr4ctl.files import write_atomic
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.releases import History, HistoryError, audit_line, parse_history

RELEASES = "releases.json"
AUDIT = "audit.jsonl"


def history_path(paths: ProjectPaths) -> Path:
    return paths.rendered_dir / RELEASES


def read_history(paths: ProjectPaths) -> History:
    path = history_path(paths)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return History()
    try:
        return parse_history(text)
    except HistoryError as exc:
        raise OperationFailed(f"{path} cannot be read: {exc}",
                              "restore it from a backup, or upgrade tr4ctl") from None


def write_history(paths: ProjectPaths, history: History) -> None:
    write_atomic(history_path(paths), history.to_json())


def append_audit(paths: ProjectPaths, event: str, now: datetime, **details: object) -> None:
    path = paths.rendered_dir / AUDIT
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(audit_line(event, now, operator(), **details))
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
