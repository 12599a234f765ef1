"""The host's side of a forwarded command (TR4CTL_REMOTE_SESSION=1, set by the
workstation: plan/remote_call.py).

- The two ends run the same tr4ctl version, or nothing runs: the workstation sends its
  version and a mismatch is refused before anything is read or changed.
- A lost connection ends the command the way SIGTERM does: the flows' clean-up runs
  (deploy, rollback, restore and db use put things back) and the stack's lock, an flock,
  is released when this process ends. ssh gives a process no signal when its session
  goes (no pty: its pipes just close), so a watchdog thread polls stdout and stderr for
  a hang-up and sends SIGTERM to this process; a pty session ends with SIGHUP, taken as
  SIGTERM, once. Verified through Debian's `sudo -n` (use_pty by default): without a pty
  sudo hands the session's pipes to the command; with one it relays the SIGHUP.
"""

from __future__ import annotations

import os
import select
import signal
import threading

from tr4ctl import __version__, interrupts
from tr4ctl.errors import BadInput
from tr4ctl.plan.remote_call import EXPECT_VERSION, REMOTE_ADDRESS, REMOTE_SESSION

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
    threading.Thread(target=_watch, args=((1, 2),), name="tr4ctl-session-watchdog",
                     daemon=True).start()


# A lost pty session is seen twice: SIGHUP (relayed by sudo) and the watchdog's hang-up.
# Only the first becomes the SIGTERM the flows clean up after; a second would cut that
# clean-up short.
_lost = threading.Lock()


def _first_loss() -> bool:
    return _lost.acquire(blocking=False)


def _on_hangup(_signum: int, frame) -> None:
    if _first_loss():
        interrupts.on_signal(signal.SIGTERM, frame)


def _watch(fds: tuple[int, ...]) -> None:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, 0)  # hang-ups and errors are always reported
    while not any(events & _HANGUP for _, events in poller.poll(POLL_MS)):
        pass
    # Nobody reads any more: what the clean-up prints goes nowhere instead of failing
    # with EPIPE half way.
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in fds:
        os.dup2(devnull, fd)
    if _first_loss():
        os.kill(os.getpid(), signal.SIGTERM)
