"""Where backups go, and whether there is room for one."""

from __future__ import annotations

import shutil
from pathlib import Path

from tr4ctl.errors import BadInput, OperationFailed
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


def prepare_dir(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise BadInput(f"{directory} is not a directory", "give a directory with --output")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def free_bytes(directory: Path) -> int:
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_space(directory: Path, estimate: int, what: str) -> None:
    problem = space_problem(str(directory), what, estimate, free_bytes(directory))
    if problem:
        raise OperationFailed(problem,
                              "free space there or choose another directory with "
                              f"{'--safety-dir' if what == 'safety backup' else '--output'}; "
                              "nothing was changed")
