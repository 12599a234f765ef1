"""Feeding a byte stream to a child process's stdin: the one loop the docker runner and
the ssh connection share (an image into `docker load`, here or on a host)."""

from __future__ import annotations

from typing import IO, Any, Protocol


class ByteSource(Protocol):
    def read(self, size: int = ...) -> bytes: ...


class Child(Protocol):
    """What of a started process the loop uses (subprocess.Popen)."""
    stdin: IO[bytes] | None

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = ...) -> Any: ...


def feed_stdin(proc: Child, source: ByteSource, chunk: int = 1 << 20) -> None:
    """source.read() into proc's stdin until b"", then closed. The process ending early
    is no error here (its exit code and stderr say why); a failing source kills it and
    its error is raised."""
    assert proc.stdin is not None
    try:
        while data := source.read(chunk):
            proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    except BaseException:
        proc.kill()
        proc.wait()
        raise
