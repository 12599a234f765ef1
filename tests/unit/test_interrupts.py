"""Ctrl-C and SIGTERM take one path (tr4ctl/interrupts.py): a real tr4ctl process
waiting for the stack's lock, signalled once the wait is said, exits 130 or 143 with one
line, releases what it held and changes nothing; the runner and deferred() in-process."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys

import pytest

from tr4ctl import interrupts
from tr4ctl.docker.runner import Runner

CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Trace:
    def detail(self, message):
        pass


def a_project(tmp_path) -> bytes:
    env = tmp_path / ".env"
    env.write_text(f"TR4CTL_PROJECT_NAME=t4t-unit-{os.getpid()}\nTR4CTL_LOCK_TIMEOUT=120\n")
    os.chmod(env, 0o600)
    (tmp_path / ".tr4ctl").mkdir()
    return env.read_bytes()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command", [("config", "set", "TR4CTL_HTTP_PORT=9123"),
                                     ("down",), ("nginx", "use", "dev")])
def test_a_signal_while_waiting_for_the_lock(tmp_path, signum, command):
    before = a_project(tmp_path)
    lock = tmp_path / ".tr4ctl" / "lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(json.dumps({"pid": os.getpid(), "command": "test", "since": "now"}))
        held.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), *command],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = process.stderr.readline()  # the event: it says it waits
        assert "waiting for `tr4ctl test`" in first, first
        process.send_signal(signum)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == CODES[signum], err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert ("SIGTERM" in lines[0]) == (signum == signal.SIGTERM), lines
    assert (tmp_path / ".env").read_bytes() == before
    # Nothing of it holds the lock now.
    with open(lock) as again:
        fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.fixture
def handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupts.reset()
    interrupts.install()
    yield
    interrupts.reset()
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("signum, kind", [(signal.SIGINT, KeyboardInterrupt),
                                          (signal.SIGTERM, interrupts.Terminated)])
def test_a_signal_during_an_undo_is_raised_after_it(handlers, signum, kind, capsys):
    finished = []
    with pytest.raises(kind), interrupts.deferred("putting the old release back"):
        os.kill(os.getpid(), signum)
        finished.append("undo")  # reached: the signal did not cut it short
    assert finished == ["undo"]
    assert "putting the old release back first" in capsys.readouterr().err
    assert interrupts.terminated() == (signum == signal.SIGTERM)


def test_an_undo_in_an_except_block_lets_its_own_error_out(handlers):
    with interrupts.deferred("putting things back", raise_after=False):
        os.kill(os.getpid(), signal.SIGTERM)
    assert interrupts.received() == signal.SIGTERM


@pytest.mark.parametrize("child_code", [-signal.SIGINT, 130, -signal.SIGTERM, 143])
def test_a_child_ended_by_our_signal_is_the_interruption_not_its_failure(handlers, child_code):
    interrupts._received.append(signal.SIGTERM)  # as the handler records it
    script = (f"import os, signal; os.kill(os.getpid(), {-child_code})" if child_code < 0
              else f"import sys; sys.exit({child_code})")
    with pytest.raises(interrupts.Terminated):
        Runner(Trace()).run([sys.executable, "-c", script])


def test_a_child_ending_130_on_its_own_is_its_failure(handlers):
    from tr4ctl.errors import OperationFailed

    with pytest.raises(OperationFailed):
        Runner(Trace()).run([sys.executable, "-c", "import sys; sys.exit(130)"])


@pytest.mark.parametrize("command, steps", [("deploy", ["backup", "start", "ready"]),
                                            ("db use", ["backup", "target"]),
                                            ("backup restore", ["stop", "safety", "replace"])])
def test_the_step_record_status_reads(tmp_path, command, steps):
    from tr4ctl.plan.layout import ProjectPaths
    from tr4ctl.project.state import last_interrupted, record_step, steps_ended, unfinished_step

    paths = ProjectPaths(tmp_path)
    (tmp_path / ".tr4ctl").mkdir()
    for step in steps:
        record_step(paths, command, step, "t0")
    assert unfinished_step(paths).step == steps[-1]  # what a kill -9 leaves
    steps_ended(paths, command, interrupted_by="SIGTERM", outcome="the old one serves")
    assert unfinished_step(paths) is None
    told = last_interrupted(paths)
    assert (told.command, told.step, told.signal) == (command, steps[-1], "SIGTERM")
    assert f"interrupted (SIGTERM) at {steps[-1]}: the old one serves" in told.describe()
    record_step(paths, command, steps[0], "t1")  # the next run of it forgets the last
    assert last_interrupted(paths) is None
    steps_ended(paths, command)
    assert unfinished_step(paths) is None and last_interrupted(paths) is None
