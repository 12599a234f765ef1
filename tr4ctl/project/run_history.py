"""<project-dir>/.tr4ctl/history.jsonl: appended by `health`, `bench` and `verify`, read by
`report` (plan/history.py decides the lines and the bound)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tr4ctl.files import write_atomic
from tr4ctl.plan.history import RunHistory, entry_line, needs_trim, parse_history, trimmed
from tr4ctl.plan.layout import ProjectPaths

HISTORY = "history.jsonl"
MODE = 0o600  # beside .env and the releases: the project's own, not the world's


def history_file(paths: ProjectPaths) -> Path:
    return paths.rendered_dir / HISTORY


def append_run(paths: ProjectPaths, entry: dict[str, Any]) -> None:
    """One line, appended whole (O_APPEND: two runs at once interleave lines, never
    bytes); past the bound, the oldest lines go in one atomic rewrite."""
    path = history_file(paths)
    if not path.parent.is_dir():
        return  # no project here (a command run in the wrong folder makes none)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
    with os.fdopen(descriptor, "a", encoding="utf-8") as log:
        log.write(entry_line(entry))
        size = os.fstat(log.fileno()).st_size
    if needs_trim(size):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        write_atomic(path, "".join(trimmed(lines)), mode=MODE)


def read_runs(paths: ProjectPaths) -> RunHistory:
    try:
        return parse_history(history_file(paths).read_text(encoding="utf-8",
                                                           errors="replace"))
    except FileNotFoundError:
        return RunHistory()
