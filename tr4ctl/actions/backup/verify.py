"""`tr4ctl backup verify`: read the whole archive, every part against its manifest."""

from __future__ import annotations

from pathlib import Path

from tr4ctl.actions.backup.archive import verify_archive
from tr4ctl.errors import OperationFailed
from tr4ctl.plan.backup import Manifest


def check_archive(path: Path) -> Manifest:
    """Everything about the archive itself, before anything else is looked at."""
    result = verify_archive(path)
    if not result.ok:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise OperationFailed(f"{path} failed verification: {result.problems[0]}{more}",
                              "use another archive; nothing was changed")
    return result.manifest
