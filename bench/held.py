"""Shared by bench/run.py and bench/backend_speed.py (run as scripts: this folder is on
sys.path): a clean-up no second Ctrl-C or SIGTERM cuts short."""

from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM ignored while the block runs (main thread only): a stack or
    containers left behind by a timed-out run would hold their ports and volumes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
