"""Writing the project's files: atomically, and private when they may hold secrets."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PRIVATE = 0o600


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Readers see the old file or the new one, never half of one (rename in the same dir)."""
    write_atomic_chunks(path, [text.encode("utf-8")], mode)


def write_atomic_chunks(path: Path, chunks: Iterable[bytes], mode: int = 0o644) -> None:
    """The same for bytes as they come (a stream from an archive)."""
    import tempfile  # here, not at the top: read-only commands never pay for it

    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600 from the start: a secret is never readable by others.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename or removal in `path` survive a crash (sync the directory entry)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, text: str) -> None:
    write_atomic(path, text, PRIVATE)


def is_private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def make_private(path: Path) -> None:
    os.chmod(path, PRIVATE)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
