"""Where images are shipped to: an engine reached over SSH (the host, or a swarm node
labelled io.tr4ctl.ssh=ssh://...), or an engine this machine reaches on a unix socket (a
swarm node labelled io.tr4ctl.docker-host=unix://...: nodes on this machine, the tests').
Each answers the same three things: what it holds (one call), a command run there, and a
command fed a stream there (`docker load`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from tr4ctl.docker.runner import ByteSource, Runner, Trace
from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.plan.image_shipping import inspect_argv, parse_inspect_answer
from tr4ctl.remote.connection import SshConnection

NO_DOCKER, NO_ENGINE = 127, 3  # the inspect script's own exit codes


class Destination(Protocol):
    name: str

    def ask(self, queries: Sequence[str]) -> dict[str, str | None]: ...

    def run(self, argv: Sequence[str], *, input: str | None = None) -> None: ...

    def feed(self, argv: Sequence[str], source: ByteSource) -> None: ...


def _answer(name: str, queries: Sequence[str], code: int, stdout: str, stderr: str,
            hint: str) -> dict[str, str | None]:
    if code == NO_DOCKER:
        raise MissingPrerequisite(f"{name} has no docker command", hint)
    if code == NO_ENGINE:
        raise MissingPrerequisite(f"the Docker engine on {name} does not answer",
                                  "start it there (`systemctl start docker`)")
    if code != 0:
        reason = stderr.strip().splitlines()
        raise OperationFailed(f"asking {name} which images it holds failed (exit {code})"
                              + (f": {reason[-1]}" if reason else ""), None)
    try:
        return parse_inspect_answer(queries, stdout)
    except ValueError as exc:
        raise OperationFailed(f"{name} answered the image query unreadably: {exc}",
                              "run `docker image ls` there to see why") from None


class SshDestination:
    """The engine of an SSH host, through the one shared connection (sudo when the user
    is not root)."""

    def __init__(self, connection: SshConnection):
        self.connection = connection
        self.name = str(connection.target)

    def ask(self, queries: Sequence[str]) -> dict[str, str | None]:
        done = self.connection.run(inspect_argv(queries), check=False)
        return _answer(self.name, queries, done.returncode,
                       done.stdout.decode(errors="replace"),
                       done.stderr.decode(errors="replace"),
                       f"install Docker there (tr4ctl's host bootstrap does: "
                       f"host bootstrap {self.name})")

    def run(self, argv: Sequence[str], *, input: str | None = None) -> None:
        self.connection.run(argv, input=input.encode() if input is not None else None)

    def feed(self, argv: Sequence[str], source: ByteSource) -> None:
        self.connection.feed(argv, source)


class EngineDestination:
    """An engine this machine reaches at a unix socket, by the docker CLI."""

    def __init__(self, name: str, docker_host: str, trace: Trace):
        self.name = name
        self.runner = Runner(trace, {**os.environ, "DOCKER_HOST": docker_host})

    def ask(self, queries: Sequence[str]) -> dict[str, str | None]:
        done = self.runner.run(inspect_argv(queries), check=False)
        return _answer(self.name, queries, done.returncode, done.stdout, done.stderr,
                       "install the docker CLI on this machine")

    def run(self, argv: Sequence[str], *, input: str | None = None) -> None:
        self.runner.run(list(argv), input=input, what=f"`{argv[0]} {argv[1]}` on {self.name}")

    def feed(self, argv: Sequence[str], source: ByteSource) -> None:
        self.runner.run_from_stream(list(argv), source, what=f"docker load on {self.name}")
