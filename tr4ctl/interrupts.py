"""Ctrl-C and SIGTERM take one path: the flow's own clean-up, the lock released, the
step recorded, then exit 130 (SIGINT) or 143 (SIGTERM: what `timeout`, systemd and CI
send). `install()` is called once by cli/app.py; flows wrap their clean-up in
`deferred()` so that a second signal cannot cut an undo short.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_received: list[int] = []  # every SIGINT/SIGTERM this process got, in order
_deferring: list[str] = []  # inside deferred(what): signals are noted, raised after


class Terminated(KeyboardInterrupt):
    """SIGTERM: a KeyboardInterrupt, so every `except KeyboardInterrupt` clean-up runs
    for it as for Ctrl-C; cli/app.py tells the two apart by the signal received."""


def install() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)


def received() -> int | None:
    """The last SIGINT/SIGTERM this process got, or None."""
    return _received[-1] if _received else None


def terminated() -> bool:
    return received() == signal.SIGTERM


def deferring() -> bool:
    return bool(_deferring)


def signal_name() -> str:
    return "SIGTERM" if terminated() else "Ctrl-C"


def interruption(signum: int | None = None) -> KeyboardInterrupt:
    return Terminated() if (signum or received()) == signal.SIGTERM else KeyboardInterrupt()


def on_signal(signum: int, frame) -> None:
    """As if `signum` came (remote/session.py: a lost session is a SIGTERM)."""
    _on_signal(signum, frame)


def _on_signal(signum: int, _frame) -> None:
    _received.append(signum)
    if _deferring:
        print(f"tr4ctl: {_deferring[-1]} first; it ends by itself (kill -9 stops it half "
              "way)", file=sys.stderr, flush=True)
        return
    raise interruption(signum)


@contextmanager
def deferred(what: str, *, raise_after: bool = True) -> Iterator[None]:
    """Signals are noted, not raised, while `what` (an undo, a last step) runs; one that
    came meanwhile is raised when it ends, when `raise_after` (an except block that
    raises its own error after it passes False)."""
    before = len(_received)
    _deferring.append(what)
    try:
        yield
    finally:
        _deferring.pop()
    if raise_after and len(_received) > before and not _deferring:
        raise interruption(_received[-1])


def reset() -> None:
    """For tests: forget the signals received."""
    _received.clear()
    _deferring.clear()
