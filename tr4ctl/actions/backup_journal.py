"""The restore journal: <project-dir>/.tr4ctl/restore-journal.json.

It exists from just before a restore's first destructive step until every part is in
place. While it exists the volumes may be half old, half new, so nothing may serve
them: `up` and `backup create` refuse and name the two ways out.
"""

from __future__ import annotations

from pathlib import Path

from tr4ctl.cli.context import AppContext
from tr4ctl.errors import OperationFailed
from tr4ctl.files import fsync_dir, write_private
from tr4ctl.plan.backup import RestoreJournal, interrupted_restore_message, parse_journal

JOURNAL_NAME = "restore-journal.json"


def journal_path(ctx: AppContext) -> Path:
    return ctx.paths.rendered_dir / JOURNAL_NAME


def read_journal(ctx: AppContext) -> tuple[bool, RestoreJournal | None]:
    """(exists, journal); an unreadable journal still exists, and still blocks."""
    path = journal_path(ctx)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False, None
    except OSError:
        return True, None
    return True, parse_journal(text)


def refuse_if_restore_interrupted(ctx: AppContext) -> None:
    exists, journal = read_journal(ctx)
    if exists:
        message, hint = interrupted_restore_message(journal)
        raise OperationFailed(message, hint)


def write_journal(ctx: AppContext, journal: RestoreJournal) -> None:
    write_private(journal_path(ctx), journal.to_json())
    fsync_dir(journal_path(ctx).parent)


def clear_journal(ctx: AppContext) -> None:
    journal_path(ctx).unlink(missing_ok=True)
    fsync_dir(journal_path(ctx).parent)

