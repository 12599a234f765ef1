"""The one door for ssh processes: every step tr4ctl runs on a host goes through an
SshConnection, over the one shared master connection (remote/commands.py).

ssh's own diagnostics go to a log file (-E) so a failure of ssh itself (exit 255: host
key, authentication, no route) is told apart from the remote command's output and turned
into one error naming the host (remote/failures.py).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Mapping, Sequence

from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote import commands
from tr4ctl.remote.failures import SSH_FAILED, ssh_failure, unknown_host_key

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a forwarded start
if TYPE_CHECKING:
    from subprocess import CompletedProcess as Completed
    from typing import IO

    from tr4ctl.docker.runner import Trace
    from tr4ctl.stdin_feed import ByteSource

_LOGS = itertools.count()


class _SshLog:
    """A file for ssh's own diagnostics (-E), in the private folder of the connection's
    socket: made 0600 on entry, removed on exit. (A class, not contextlib's decorator: a
    forwarded command's start imports neither contextlib nor pathlib.)"""

    def __init__(self, folder: str):
        self.name = f"{folder}/log-{os.getpid()}-{next(_LOGS)}"

    def __enter__(self) -> str:
        os.close(os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return self.name

    def __exit__(self, *_exc) -> None:
        try:
            os.unlink(self.name)
        except FileNotFoundError:
            pass


def _spawn_and_wait(argv: list[str]) -> int:
    """subprocess.run(argv).returncode with this process's stdin, stdout and stderr,
    without importing subprocess (a forwarded command's start). Interrupted, ssh is
    given subprocess.run's quarter of a second to end on the same Ctrl-C, then killed:
    the host sees the session end either way."""
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    try:
        _, status = os.waitpid(pid, 0)
    except BaseException:
        deadline = time.monotonic() + 0.25
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                import signal

                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
        raise
    return os.waitstatus_to_exitcode(status)


def private_control_dir() -> str:
    """A 0700 folder of this user's for the master connections' sockets."""
    import stat

    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"
    folder = os.path.join(base, f"tr4ctl-ssh-{os.getuid()}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"{folder} is not a private folder of this user")
    return folder


class SshConnection:
    def __init__(self, target: SshTarget, options: commands.SshOptions, trace: Trace):
        self.target = target
        self.options = options
        self.trace = trace

    def argv(self, remote_argv: Sequence[str], *, sudo: bool | None = None, tty: bool = False,
             environment: Mapping[str, str] | None = None) -> list[str]:
        return commands.ssh_run(self.target, self.options, remote_argv, sudo=sudo, tty=tty,
                                environment=environment)

    def run(self, remote_argv: Sequence[str], *, input: bytes | None = None,
            stdin: IO[bytes] | int | None = None, check: bool = True,
            sudo: bool | None = None, environment: Mapping[str, str] | None = None,
            timeout: float | None = None) -> Completed[bytes]:
        """Run on the host, capture stdout and stderr (bytes). ssh's own failure always
        raises; the remote command's exit code raises only with check."""
        import subprocess

        argv = self.argv(remote_argv, sudo=sudo, environment=environment)
        self.trace.detail(f"$ [{self.target}] " + commands.join(remote_argv))
        with _SshLog(self.options.control_dir) as log:
            full = [*argv[:1], "-E", log, *argv[1:]]
            try:
                done = subprocess.run(full, input=input,
                                      stdin=stdin if input is None else None,
                                      capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise self._no_answer(remote_argv, timeout) from None
            if done.returncode == SSH_FAILED:
                self._raise_ssh_failure(log)
        if check and done.returncode != 0:
            raise self._remote_failed(remote_argv, done)
        return done

    def _no_answer(self, remote_argv: Sequence[str], timeout: float | None):
        from tr4ctl.errors import OperationFailed

        return OperationFailed(f"{self.target} did not answer `{commands.join(remote_argv)}` "
                               f"within {timeout:g} s",
                               "see what the host answers with `tr4ctl host check`")

    def _remote_failed(self, remote_argv: Sequence[str], done: Completed[bytes]):
        from tr4ctl.errors import OperationFailed

        reason = done.stderr.decode(errors="replace").strip().splitlines()
        return OperationFailed(
            f"on {self.target}: `{commands.join(remote_argv)}` exited {done.returncode}"
            + (f": {reason[-1]}" if reason else ""))

    def attached(self, remote_argv: Sequence[str], *, tty: bool = False,
                 environment: Mapping[str, str] | None = None) -> int:
        """Run on the host with this process's stdin, stdout and stderr (a forwarded
        command): its exit code; ssh's own failure raises."""
        argv = self.argv(remote_argv, tty=tty, environment=environment)
        self.trace.detail(f"$ [{self.target}] " + commands.join(remote_argv))
        with _SshLog(self.options.control_dir) as log:
            code = _spawn_and_wait([*argv[:1], "-E", log, *argv[1:]])
            if code == SSH_FAILED:
                self._raise_ssh_failure(log)
        return code

    def _raise_ssh_failure(self, log: str) -> None:
        with open(log, encoding="utf-8", errors="replace") as file:
            diagnostics = file.read()
        from tr4ctl.remote import host_keys

        fingerprints = host_keys.fingerprints(self.target) if unknown_host_key(diagnostics) else None
        error = ssh_failure(self.target, self.options, diagnostics, fingerprints)
        if error is not None:
            raise error

    def feed(self, remote_argv: Sequence[str], source: ByteSource, *,
             sudo: bool | None = None, chunk: int = 1 << 20) -> Completed[bytes]:
        """Run on the host with source.read() streamed to its stdin until b"" (an image
        into `docker load`); like run(check=True) otherwise."""
        argv = self.argv(remote_argv, sudo=sudo)
        self.trace.detail(f"$ [{self.target}] " + commands.join(remote_argv) + " < stream")
        import subprocess
        import tempfile

        from tr4ctl.stdin_feed import feed_stdin

        with _SshLog(self.options.control_dir) as log, \
                tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            # Output to files: a chatty remote command can never block on a full pipe.
            proc = subprocess.Popen([*argv[:1], "-E", log, *argv[1:]],
                                    stdin=subprocess.PIPE, stdout=out, stderr=err)
            feed_stdin(proc, source, chunk)
            code = proc.wait()
            out.seek(0)
            err.seek(0)
            done = subprocess.CompletedProcess(argv, code, out.read(), err.read())
            if code == SSH_FAILED:
                self._raise_ssh_failure(log)
        if code != 0:
            raise self._remote_failed(remote_argv, done)
        return done

    def output(self, remote_argv: Sequence[str], **options) -> str:
        return self.run(remote_argv, **options).stdout.decode(errors="replace")

    def close(self) -> None:
        """End the shared master connection (it otherwise ends ControlPersist s idle)."""
        import subprocess

        subprocess.run(commands.ssh_exit_master(self.target, self.options),
                       capture_output=True, check=False)
