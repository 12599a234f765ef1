"""`tr4ctl backup list`: the archives in a directory, from their manifests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tr4ctl.actions.backup.archive import read_manifest
from tr4ctl.actions.backup.location import backup_dir, existing_dir
from tr4ctl.actions.config.paths import require_backup_dir_setting
from tr4ctl.errors import Tr4ctlError
from tr4ctl.plan.backup import ARCHIVE_SUFFIX
from tr4ctl.runtime import Runtime


@dataclass
class ListedArchive:
    file: str
    path: str
    size: int
    kind: str | None = None
    project: str | None = None
    created_at: str | None = None
    tr4ctl_version: str | None = None
    format_version: int | None = None
    problem: str | None = None


def list_backups(rt: Runtime, given: Path | None) -> tuple[Path, list[ListedArchive]]:
    """The directory listed (--dir must exist; the default one may not exist yet) and
    its archives."""
    if given:
        directory = existing_dir(backup_dir(rt, given), "--dir")
    else:
        # TR4CTL_BACKUP_DIR may not exist yet (no backup made), but a file there is a
        # mistake to name, not "0 archives".
        directory = backup_dir(rt, None)
        require_backup_dir_setting(directory, rt.project_dir)
    return directory, archives_in(directory)


def archives_in(directory: Path) -> list[ListedArchive]:
    if not directory.is_dir():
        return []
    listed = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or not path.name.endswith(ARCHIVE_SUFFIX) or path.name.startswith("."):
            continue
        entry = ListedArchive(file=path.name, path=str(path), size=path.stat().st_size)
        try:
            manifest = read_manifest(path)
        except Tr4ctlError as exc:
            entry.problem = exc.message.replace(str(path), "archive")
        else:
            entry.kind, entry.project = manifest.kind, manifest.project
            entry.created_at, entry.tr4ctl_version = manifest.created_at, manifest.tr4ctl_version
            entry.format_version = manifest.format_version
        listed.append(entry)
    listed.sort(key=lambda e: (e.created_at or "", e.file))
    return listed
