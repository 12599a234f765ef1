"""Writing the project's files: atomically, and private when they may hold secrets;
reading the files an operator names: checked for what they are before a byte is read."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tr4ctl.errors import BadInput

PRIVATE = 0o600
# What tr4ctl reads from an operator's file is small text (a .env, an accounts list, a
# CA bundle, a template, a baseline): a bound keeps /dev/zero from eating the memory.
TEXT_LIMIT = 4 * 1024 * 1024


def kind_of(mode: int) -> str:
    """What a file is, in words (for "X is a FIFO, not a regular file")."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "not a regular file"


def regular_file_problem(path: Path) -> str | None:
    """Why `path` (links followed) is not a regular file, or None; never opens it, so a
    FIFO cannot block. FileNotFoundError when it does not exist."""
    mode = os.stat(path).st_mode
    return None if stat.S_ISREG(mode) else f"{path} is {kind_of(mode)}, not a regular file"


def read_regular_file(path: Path, what: str, *, limit: int = TEXT_LIMIT,
                      hint: str | None = None) -> bytes:
    """The bytes of an operator's file, which must be a regular, readable file of at most
    `limit` bytes. BadInput naming the path and what it is otherwise; FileNotFoundError
    is left to the caller (a missing .env is a new project, a missing --file is not).

    The open is non-blocking (a FIFO swapped in after the check does not hang), the kind
    is checked again on the open descriptor, and at most `limit` + 1 bytes are read."""
    hint = hint or f"give a regular file as {what}"
    problem = regular_file_problem(path)
    if problem:
        raise BadInput(f"{what} {problem}", hint)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BadInput(f"cannot read {what} {path}: {exc.strerror or exc}",
                       "check the file's permissions") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{what} {path} is {kind_of(info.st_mode)}, not a regular file", hint)
        if info.st_size > limit:
            raise BadInput(f"{what} {path} is {info.st_size} bytes, more than the "
                           f"{limit // 1024} KiB such a file can be", hint)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1024 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while being read
            raise BadInput(f"{what} {path} is more than the {limit // 1024} KiB such a file "
                           "can be", hint)
        return b"".join(chunks)
    except OSError as exc:
        raise BadInput(f"cannot read {what} {path}: {exc.strerror or exc}",
                       "check the file") from None
    finally:
        os.close(fd)


def read_regular_text(path: Path, what: str, *, limit: int = TEXT_LIMIT,
                      hint: str | None = None) -> str:
    """read_regular_file as UTF-8 text (BadInput when it is not)."""
    data = read_regular_file(path, what, limit=limit, hint=hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} {path} is not UTF-8 text (byte {exc.start})",
                       "give a text file") from None


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


def content_digest(path: Path) -> str:
    """The sha256 of an operator's small file; of nothing when it is not a regular file
    or cannot be read (never blocks on a FIFO): the command that needs the file refuses
    it, naming the setting."""
    import hashlib

    try:
        data = read_regular_file(path, "the file")
    except (BadInput, OSError):
        data = b""
    return hashlib.sha256(data).hexdigest()
