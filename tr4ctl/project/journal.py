"""The restore journal: <project-dir>/.tr4ctl/restore-journal.json.

It exists from just before a restore's first destructive step until every part is in
place. While it exists the volumes may be half old, half new, so nothing may serve
them: every changing command but the two below refuses and names the two ways out.
"""

from __future__ import annotations

from pathlib import Path

from tr4ctl.errors import OperationFailed
from tr4ctl.files import fsync_dir, write_private
from tr4ctl.plan.backup import RestoreJournal, interrupted_restore_message, parse_journal
from tr4ctl.plan.layout import ProjectPaths

JOURNAL_NAME = "restore-journal.json"
# Finishing the restore, or stopping the stack, are safe on half-restored volumes.
ALLOWED_DURING_INTERRUPTED_RESTORE = frozenset({"backup restore", "down"})


def journal_path(paths: ProjectPaths) -> Path:
    return paths.rendered_dir / JOURNAL_NAME


def read_journal(paths: ProjectPaths) -> tuple[bool, RestoreJournal | None]:
    """(exists, journal); an unreadable journal still exists, and still blocks."""
    try:
        text = journal_path(paths).read_text(encoding="utf-8")
    except FileNotFoundError:
        return False, None
    except OSError:
        return True, None
    return True, parse_journal(text)


def refuse_if_restore_interrupted(paths: ProjectPaths, command: str) -> None:
    if command in ALLOWED_DURING_INTERRUPTED_RESTORE:
        return
    exists, journal = read_journal(paths)
    if exists:
        message, hint = interrupted_restore_message(journal)
        raise OperationFailed(message, hint)


def write_journal(paths: ProjectPaths, journal: RestoreJournal) -> None:
    write_private(journal_path(paths), journal.to_json())
    fsync_dir(journal_path(paths).parent)


def clear_journal(paths: ProjectPaths) -> None:
    journal_path(paths).unlink(missing_ok=True)
    fsync_dir(journal_path(paths).parent)
