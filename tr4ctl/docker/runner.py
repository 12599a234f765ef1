"""The one door: every docker, compose and image-tool process tr4ctl starts runs here.

It shows the command under --verbose, passes secrets through the environment or stdin
(never argv), and turns every failure into one error carrying the engine's own reason
(docker/failures.py). A call made with check=False still fails loudly when the engine
itself is unreachable: "no engine" must never read as "nginx -t failed".
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from tr4ctl import interrupts
from tr4ctl.docker.failures import (
    call_failure,
    fails_even_unchecked,
    missing_program,
    timed_out,
)
from tr4ctl.stdin_feed import ByteSource, feed_stdin

Completed = subprocess.CompletedProcess
# A child ended by SIGINT or SIGTERM: -N from Python, 128+N from a shell or docker.
ENDED_BY_SIGNAL = frozenset({-signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT,
                             128 + signal.SIGTERM})


class Trace(Protocol):
    def detail(self, message: str) -> None: ...



class Runner:
    """`environment`: what every process gets (the engine resolved once, given
    explicitly: docker/endpoint.py); None inherits this process's."""

    def __init__(self, trace: Trace, environment: Mapping[str, str] | None = None):
        self.trace = trace
        self.environment = dict(environment) if environment is not None else None

    def _show(self, argv: list[str]) -> None:
        self.trace.detail("$ " + shlex.join(argv))

    def _environment(self, env: Mapping[str, str] | None = None) -> dict[str, str] | None:
        if self.environment is None and not env:
            return None
        return {**(self.environment if self.environment is not None else os.environ),
                **(env or {})}

    def run(self, argv: list[str], *, input: str | None = None, check: bool = True,
            timeout: float | None = None, env: Mapping[str, str] | None = None,
            what: str | None = None, hint: str | None = None) -> Completed[str]:
        """Run to completion, output captured as text."""
        self._show(argv)
        try:
            completed = subprocess.run(argv, input=input, capture_output=True, text=True,
                                       timeout=timeout, env=self._environment(env))
        except FileNotFoundError:
            raise missing_program(argv) from None
        except subprocess.TimeoutExpired:
            raise timed_out(argv, timeout or 0) from None
        if completed.returncode != 0:
            self._raise_for(argv, completed.returncode, completed.stderr, completed.stdout,
                            check=check, what=what, hint=hint)
        return completed

    def output(self, argv: list[str], **options) -> str:
        return self.run(argv, **options).stdout

    def run_to_file(self, argv: list[str], dest: Path, *, stdin_bytes: bytes | None = None,
                    env: Mapping[str, str] | None = None, what: str | None = None) -> str:
        """stdout into dest (large streams: a volume as tar); returns stderr."""
        self._show(argv)
        with tempfile.TemporaryFile() as errors, dest.open("wb") as sink:
            # stderr to a file: a chatty process can never block on a full pipe.
            try:
                completed = subprocess.run(
                    argv, input=stdin_bytes, stdout=sink, stderr=errors,
                    env=self._environment(env),
                    stdin=None if stdin_bytes is not None else subprocess.DEVNULL)
            except FileNotFoundError:
                raise missing_program(argv) from None
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if completed.returncode != 0:
            self._raise_for(argv, completed.returncode, stderr, None, check=True, what=what)
        return stderr

    def run_from_stream(self, argv: list[str], source: ByteSource, *, chunk: int = 1 << 20,
                        what: str | None = None) -> None:
        """source.read() fed to the process's stdin until it returns b""."""
        self._show(argv)
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=errors, env=self._environment())
            except FileNotFoundError:
                raise missing_program(argv) from None
            feed_stdin(proc, source, chunk)
            code = proc.wait()
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if code != 0:
            self._raise_for(argv, code, stderr, None, check=True, what=what)

    @contextmanager
    def reading(self, argv: list[str], *, what: str | None = None,
                settle_seconds: float = 0.5) -> Iterator[IO[bytes]]:
        """The process's stdout as a byte stream (`docker save` into a pipe: no temporary
        file of the whole image). Its exit code is checked when the block ends. When the
        reader fails, a process that failed on its own is the cause reported (a save that
        stopped half-way explains the load that got a cut-off stream); else it is killed."""
        self._show(argv)
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors,
                                        stdin=subprocess.DEVNULL, env=self._environment())
            except FileNotFoundError:
                raise missing_program(argv) from None
            assert proc.stdout is not None
            try:
                yield proc.stdout
            except BaseException:
                # Its stdout stays open meanwhile: closed first, a healthy process would
                # die of the broken pipe and read as the cause.
                try:
                    code = proc.wait(timeout=settle_seconds)
                except subprocess.TimeoutExpired:
                    code = None  # still producing: the consumer's failure is the news
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                if code:
                    errors.seek(0)
                    self._raise_for(argv, code, errors.read().decode(errors="replace"), None,
                                    check=True, what=what)
                raise
            proc.stdout.close()
            code = proc.wait()
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if code != 0:
            self._raise_for(argv, code, stderr, None, check=True, what=what)

    def lines(self, argv: list[str]) -> Iterator[str]:
        """The process's stdout, line by line as it comes (`logs --follow --json`)."""
        self._show(argv)
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors,
                                        stdin=subprocess.DEVNULL, text=True, errors="replace",
                                        env=self._environment())
            except FileNotFoundError:
                raise missing_program(argv) from None
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    yield line.rstrip("\n")
            finally:
                # The reader may stop early (Ctrl-C, a closed pipe): the process stops too.
                if proc.poll() is None:
                    proc.terminate()
                code = proc.wait()
                proc.stdout.close()
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if code != 0:
            self._raise_for(argv, code, stderr, None, check=True)

    def attach(self, argv: list[str], *, timeout: float | None = None) -> int:
        """The process writes straight to this terminal (logs --follow); its exit code."""
        self._show(argv)
        try:
            code = subprocess.run(argv, timeout=timeout, env=self._environment()).returncode
        except FileNotFoundError:
            raise missing_program(argv) from None
        except subprocess.TimeoutExpired:
            raise timed_out(argv, timeout or 0) from None
        if code in ENDED_BY_SIGNAL and interrupts.received() and not interrupts.deferring():
            raise interrupts.interruption()  # as in _raise_for: the signal is the news
        return code

    @staticmethod
    def _raise_for(argv: list[str], code: int, stderr: str | None, stdout: str | None, *,
                   check: bool, what: str | None = None, hint: str | None = None) -> None:
        if code in ENDED_BY_SIGNAL and interrupts.received() and not interrupts.deferring():
            # Ctrl-C reaches the whole process group: the child may end of it before
            # this process's own handler runs. The interruption is the news, not its exit.
            raise interrupts.interruption()
        error = call_failure(argv, code, stderr, stdout, what, hint)
        if check or fails_even_unchecked(argv, stderr, stdout):
            raise error
