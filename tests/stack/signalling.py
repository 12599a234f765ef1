"""A tr4ctl process signalled at a step it records in .tr4ctl/state.json (an event,
never a sleep), and what the tests look at afterwards: the state file and the lock.
Shared by test_signals.py and test_operator.py."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess

from conftest import wait_for


def state_file(stack) -> dict:
    path = stack.project_dir / ".tr4ctl" / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def when_step(stack, process: subprocess.Popen, record: str, step: str, *,
              timeout: float = 600) -> None:
    """Once `process` (still running) has recorded `step` under `record` (up_in_progress,
    step_in_progress)."""
    def reached():
        assert process.poll() is None, process.communicate()
        return (state_file(stack).get(record) or {}).get("step") == step

    wait_for(reached, f"{record} to be {step!r}", timeout=timeout, every=0.02)


def signal_at(stack, process: subprocess.Popen, record: str, step: str, *,
              signum: int = signal.SIGTERM, send=os.kill, timeout: float = 900
              ) -> tuple[str, str]:
    """`signum` sent (by `send`: os.kill, or os.killpg as a terminal's Ctrl-C) once the
    step is recorded; the process's stdout and stderr once it has ended."""
    when_step(stack, process, record, step)
    send(process.pid, signum)
    return process.communicate(timeout=timeout)


def lock_is_free(stack) -> bool:
    with open(stack.project_dir / ".tr4ctl" / "lock", "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True
