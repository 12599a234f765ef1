"""A real terminal of a chosen width: tmux on a socket of the test's own (in a temporary
folder, never the user's tmux server), a command's stdout drawn in it, the screen read
back."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

END = "__tr4ctl-test-end__"


class Terminal:
    def __init__(self, tmux: list[str]):
        self.tmux = tmux

    def lines(self, *, joined: bool = False) -> list[str]:
        """The screen as shown, or with the lines tmux wrapped joined back (-J)."""
        result = subprocess.run([*self.tmux, "capture-pane", "-p", *(["-J"] if joined else [])],
                                capture_output=True, text=True, check=True)
        return [line.rstrip() for line in result.stdout.splitlines()]

    def wait_for(self, text: str, timeout: float = 120.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.lines()
            if any(text in line for line in shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared:\n" + "\n".join(shown))
            time.sleep(0.3)

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", *keys], check=True)


@contextmanager
def terminal(argv: list[str], width: int, env: dict[str, str], *, height: int = 400,
             stderr: bool = False) -> Iterator[Terminal]:
    """`argv` running in a new terminal; when it ends the terminal shows END and its exit
    code (`END 0`). stderr is dropped unless asked for."""
    command = (f"{shlex.join(argv)}{'' if stderr else ' 2>/dev/null'}; echo {END} $?; "
               "sleep 600")
    environment = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    with tempfile.TemporaryDirectory(prefix="tr4ctl-tmux-") as folder:
        tmux = ["tmux", "-S", str(Path(folder) / "socket"), "-f", os.devnull]
        subprocess.run([*tmux, "new-session", "-d", "-x", str(width), "-y", str(height),
                        command], env=environment, check=True)
        try:
            yield Terminal(tmux)
        finally:
            subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


def screen(argv: list[str], width: int, env: dict[str, str]) -> tuple[list[str], list[str]]:
    """The stdout of `argv` as the terminal shows it, and as it was written (tmux joins
    the lines it wrapped): the two differ exactly when a line was too wide."""
    with terminal(argv, width, env) as term:
        term.wait_for(END)
        return until_end(term.lines()), until_end(term.lines(joined=True))


def until_end(lines: list[str]) -> list[str]:
    kept = []
    for line in lines:
        if line.startswith(END):
            break
        kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return kept
