"""A real terminal of a chosen width: tmux on a socket of the test's own (never the
user's tmux server), the command's stdout drawn in it, the screen read back."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

END = "__tr4ctl-test-end__"


def screen(argv: list[str], width: int, env: dict[str, str], *, height: int = 400,
           timeout: float = 120.0) -> tuple[list[str], list[str]]:
    """The lines as the terminal shows them, and as they were written (tmux joins the
    lines it wrapped): the two differ exactly when a line was too wide."""
    command = f"{shlex.join(argv)} 2>/dev/null; echo {END}; sleep {int(timeout)}"
    environment = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    with tempfile.TemporaryDirectory(prefix="tr4ctl-tmux-") as folder:
        tmux = ["tmux", "-S", str(Path(folder) / "socket"), "-f", os.devnull]
        subprocess.run([*tmux, "new-session", "-d", "-x", str(width), "-y", str(height),
                        command], env=environment, check=True)
        return _drawn(tmux, timeout)


def _drawn(tmux: list[str], timeout: float) -> tuple[list[str], list[str]]:
    try:
        deadline = time.monotonic() + timeout
        while True:
            shown = _capture(tmux)
            if any(line.strip() == END for line in shown) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        written = _capture(tmux, "-J")
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
    return _until_end(shown), _until_end(written)


def _capture(tmux: list[str], *options: str) -> list[str]:
    result = subprocess.run([*tmux, "capture-pane", "-p", *options], capture_output=True,
                            text=True, check=True)
    return result.stdout.splitlines()


def _until_end(lines: list[str]) -> list[str]:
    kept = []
    for line in lines:
        if line.strip() == END:
            break
        kept.append(line.rstrip())
    return kept
