"""One tr4ctl at a time may change a stack.

An advisory flock on <project-dir>/.tr4ctl/lock: the kernel releases it when the holder
exits, however it exits (kill -9 included), so a stale lock cannot block anyone. The
file's content only names the holder for the message others see.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tr4ctl.errors import OperationFailed


@contextmanager
def stack_lock(lock_file: Path, command: str, timeout: float,
               on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, lock_file, timeout, on_wait)
        holder = {"pid": os.getpid(), "command": command,
                  "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, lock_file: Path, timeout: float,
             on_wait: Callable[[str], None] | None) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = describe_holder(lock_file)
            if time.monotonic() >= deadline:
                raise OperationFailed(
                    f"another tr4ctl is changing this stack: {holder}",
                    "wait for it to finish, or raise TR4CTL_LOCK_TIMEOUT",
                ) from None
            if on_wait and not told:
                on_wait(f"waiting for {holder} to finish")
                told = True
            time.sleep(0.2)


def current_holder(lock_file: Path) -> str | None:
    """Who changes the stack right now, or None: for read-only commands, which never
    wait (a shared lock taken and dropped at once, refused while someone holds it)."""
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return describe_holder(lock_file)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def describe_holder(lock_file: Path) -> str:
    try:
        holder = json.loads(lock_file.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "an unnamed holder"
    return f"`tr4ctl {holder.get('command')}` (pid {holder.get('pid')}, since {holder.get('since')})"
