"""`tr4ctl exec`: which container a command runs in, and what refuses it. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from tr4ctl.errors import BadInput, MissingPrerequisite
from tr4ctl.plan.services import ServiceState


@dataclass(frozen=True)
class ExecRequest:
    service: str
    command: tuple[str, ...]
    tty: bool


def check_request(service: str, command: Sequence[str], services: Sequence[str]) -> None:
    if service not in services:
        raise BadInput(f"unknown service {service!r}",
                       f"name one of: {', '.join(services)} (`tr4ctl status` lists them)")
    if not command:
        raise BadInput("no command given to run", f"put it after --: `tr4ctl exec {service} "
                       "-- sh`")


def running_container(service: str, containers: Sequence[ServiceState]) -> str:
    """A running container of the service (a healthy one first: during a deploy the new
    one may still be starting); a stopped service is exit 3 naming `tr4ctl up`."""
    running = [c for c in containers if c.state == "running" and c.container_id]
    if not running:
        raise MissingPrerequisite(f"{service} is not running: nothing to run the command in",
                                  "start the stack with `tr4ctl up`")
    running.sort(key=lambda c: c.health not in (None, "healthy"))
    return str(running[0].container_id)


def audit_details(request: ExecRequest) -> dict[str, object]:
    """What the audit log keeps of an exec: the program's name, never its arguments
    (a password passed on a command line must not land in a log)."""
    return {"service": request.service, "program": PurePosixPath(request.command[0]).name,
            "tty": request.tty}
