"""The host's side of a forwarded command (TR4CTL_REMOTE_SESSION=1, set by the
workstation: plan/remote_call.py).

- The two ends run the same tr4ctl version, or nothing runs: the workstation sends its
  version and a mismatch is refused before anything is read or changed.
- A lost connection ends the command the way SIGTERM does: the flows' clean-up runs
  (deploy, rollback, restore and db use put things back) and the stack's lock, an flock,
  is released when this process ends. ssh gives a process no signal when its session
  goes (no pty: its pipes just close), so a watchdog thread polls stdout and stderr for
  a hang-up and sends SIGTERM to this process. Forwarded commands get a pty only when
  they may prompt (plan/remote_call.py). A pty session ends with SIGHUP, taken as
  SIGTERM, once; but Debian's `sudo -n` (use_pty by default) puts a pty of its own
  between the session's and the command and does not always relay that SIGHUP, and its
  pty stays open while sudo lives. So the watchdog also polls the terminals of the
  processes between this one and sshd (the session's own pty, sudo's parent's): the
  session's pty hangs up when sshd lets it go, whatever sudo does.
"""

from __future__ import annotations

import os
import select
import signal
import threading

from tr4ctl import __version__, interrupts
from tr4ctl.errors import BadInput
from tr4ctl.session_env import EXPECT_VERSION, REMOTE_ADDRESS, REMOTE_SESSION

POLL_MS = 500
_HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def on_host() -> bool:
    return os.environ.get(REMOTE_SESSION) == "1"


def version_refusal(host_version: str, workstation_version: str | None,
                    address: str | None) -> BadInput | None:
    if not workstation_version or workstation_version == host_version:
        return None
    where = address or "ssh://HOST"
    return BadInput(f"the host runs tr4ctl {host_version}, the workstation "
                    f"{workstation_version}",
                    f"run `tr4ctl host bootstrap {where}` to install {workstation_version} "
                    "there")


def start() -> None:
    """Refuse another version; then watch the session (BadInput before anything)."""
    refusal = version_refusal(__version__, os.environ.get(EXPECT_VERSION),
                              os.environ.get(REMOTE_ADDRESS))
    if refusal is not None:
        raise refusal
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, _on_hangup)
    threading.Thread(target=_watch, args=((1, 2), _outer_terminals()),
                     name="tr4ctl-session-watchdog", daemon=True).start()


def _stat(pid: int | str) -> tuple[str, int, int]:
    """(command name, parent pid, controlling terminal's device number) of a process."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        text = handle.read().decode(errors="replace")
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()  # state ppid pgrp session tty_nr ...
    return name, int(fields[1]), int(fields[4])


def _outer_terminals() -> list[int]:
    """Open (read-only, never as controlling terminal) the terminals of this process's
    ancestors up to sshd that are not its own: the SSH session's pty when sudo put one of
    its own in between. [] without a pty, or off Linux."""
    try:
        _, parent, own = _stat("self")
        seen: set[int] = set()
        for _ in range(16):  # sshd is a few steps up: sh, sudo, sudo's monitor
            name, grandparent, tty = _stat(parent)
            if name.startswith("sshd") or parent <= 1:
                break
            if tty and tty != own:
                seen.add(tty)
            parent = grandparent
    except (OSError, ValueError, IndexError):
        return []
    return [fd for fd in (_open_terminal(tty) for tty in sorted(seen)) if fd is not None]


def _open_terminal(device: int) -> int | None:
    try:
        names = os.listdir("/dev/pts")
    except OSError:
        return None
    for name in names:
        path = f"/dev/pts/{name}"
        try:
            if os.stat(path).st_rdev == device:
                return os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            continue
    return None


# A lost pty session is seen twice: SIGHUP (relayed by sudo) and the watchdog's hang-up.
# Only the first becomes the SIGTERM the flows clean up after; a second would cut that
# clean-up short.
_lost = threading.Lock()


def _first_loss() -> bool:
    return _lost.acquire(blocking=False)


def _on_hangup(_signum: int, frame) -> None:
    if _first_loss():
        interrupts.on_signal(signal.SIGTERM, frame)


def _watch(fds: tuple[int, ...], terminals: list[int] = ()) -> None:
    # A signal for the process must reach the main thread: one taken by this thread
    # would not interrupt the main thread's wait, and its handler would run only when
    # that wait ends (a lost pty session's clean-up once waited out a whole sleep).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGTERM, signal.SIGINT})
    poller = select.poll()
    for fd in (*fds, *terminals):
        poller.register(fd, 0)  # hang-ups and errors are always reported
    while not any(events & _HANGUP for _, events in poller.poll(POLL_MS)):
        pass
    # Nobody reads any more: what the clean-up prints goes nowhere instead of failing
    # with EPIPE half way.
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in fds:
        os.dup2(devnull, fd)
    if _first_loss():
        signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
