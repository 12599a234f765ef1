"""The forwarded command's ssh, spawned without subprocess (remote/connection.py): the
exit code as subprocess gives it, and Ctrl-C never leaves it running."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tr4ctl.remote.connection import _spawn_and_wait


def test_the_exit_code_is_subprocess_s():
    assert _spawn_and_wait(["sh", "-c", "exit 3"]) == 3
    assert _spawn_and_wait(["true"]) == 0
    assert _spawn_and_wait(["sh", "-c", "kill -9 $$"]) == -9
    with pytest.raises(FileNotFoundError):
        _spawn_and_wait(["tr4ctl-no-such-program"])


def test_an_interrupt_ends_the_child_and_is_raised(tmp_path):
    marker = tmp_path / "pid"
    # The child ignores SIGINT (as a remote session may): it is killed after the grace.
    script = f"trap '' INT; echo $$ > {marker}; sleep 30"
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _spawn_and_wait(["sh", "-c", script])
    assert time.monotonic() - started < 5
    child = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
