"""<project-dir>/.tr4ctl/releases.json: the backend's releases, format-versioned (the audit
log beside it is project/audit.py's)."""

from __future__ import annotations

from pathlib import Path

from tr4ctl.errors import OperationFailed
from tr4ctl.files import write_atomic
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.releases import History, HistoryError, parse_history

RELEASES = "releases.json"


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
