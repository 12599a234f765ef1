"""Where backups go, and whether there is room for one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.files import kind_of
from tr4ctl.plan.backup import space_problem
from tr4ctl.runtime import Runtime

DEFAULT_DIR_NAME = "backups"


def backup_dir(rt: Runtime, given: Path | None) -> Path:
    if given is not None:
        return given.expanduser().resolve()
    configured = rt.config.backup_dir
    if configured:
        configured = configured.expanduser()
        return configured if configured.is_absolute() else rt.project_dir / configured
    return rt.project_dir / DEFAULT_DIR_NAME


def prepare_dir(directory: Path, option: str = "--dir") -> None:
    """A folder archives can be written in, created (0700) if missing; BadInput before
    any work otherwise."""
    if directory.exists() and not directory.is_dir():
        raise BadInput(f"{directory} is not a directory", f"give a directory with {option}")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the backup directory {directory}: "
                       f"{exc.strerror or exc}", f"give another directory with {option}"
                       ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BadInput(f"the backup directory {directory} is not writable by this user",
                       f"give another directory with {option}")


def existing_dir(directory: Path, option: str) -> Path:
    """A folder to read archives from: a typo must not read as "no archives"."""
    if not directory.is_dir():
        what = f"it is {kind_of(os.stat(directory).st_mode)}" if directory.exists() \
            else "it does not exist"
        raise BadInput(f"{directory} is not a directory: {what}", f"check {option}")
    return directory


def free_bytes(directory: Path) -> int:
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_space(directory: Path, estimate: int, what: str, option: str = "--dir") -> None:
    problem = space_problem(str(directory), what, estimate, free_bytes(directory))
    if problem:
        raise OperationFailed(problem, "free space there or choose another directory with "
                                       f"{option}; nothing was changed")
