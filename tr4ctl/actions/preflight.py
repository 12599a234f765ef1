"""Checks several commands share, before anything changes: one rule each."""

from __future__ import annotations

from dataclasses import dataclass

from tr4ctl.errors import MissingPrerequisite
from tr4ctl.facts import LONG_RUNNING_SERVICES
from tr4ctl.plan.services import ServiceState, published_host_ports
from tr4ctl.ports import port_in_use
from tr4ctl.runtime import Runtime

NO_STACK = "the stack is not running: this project has no stack yet"


def require_stack(rt: Runtime, *, hint: str = "run `tr4ctl up` first") -> None:
    """An engine, and a stack rendered in this project dir (exit 3 without: what the
    command needs is not there)."""
    if not rt.paths.compose_file.exists():
        raise MissingPrerequisite(NO_STACK, hint)
    rt.engine.require_engine()


def require_running(rt: Runtime, service: str, *, message: str, hint: str) -> ServiceState:
    """The one service a command works through; `message` may name its {state}."""
    state = rt.engine.service_states((service,))[service]
    if state.state != "running":
        raise MissingPrerequisite(message.format(state=state.state), hint)
    return state


def require_stack_running(rt: Runtime) -> dict[str, ServiceState]:
    """For the checks (health, verify): a stack with at least one service running. A
    partly running stack is theirs to judge, check by check (exit 1); one where nothing
    runs has nothing to check (exit 3, like every command that needs the stack)."""
    require_stack(rt)
    states = rt.engine.service_states(LONG_RUNNING_SERVICES)
    if not any(state.state == "running" for state in states.values()):
        seen = ", ".join(f"{name} {state.state}" for name, state in states.items())
        raise MissingPrerequisite(f"the stack is not running ({seen})",
                                  "start it with `tr4ctl up`")
    return states


@dataclass(frozen=True)
class PortCheck:
    key: str  # HTTP or HTTPS
    port: int
    status: str  # "ours" (published by this stack's nginx), "free" or "busy"

    @property
    def setting(self) -> str:
        return f"TR4CTL_{self.key}_PORT"


def check_ports(rt: Runtime, nginx: ServiceState | None) -> list[PortCheck]:
    """Whether nginx's ports can be published: a port this stack's nginx holds is not
    busy."""
    config = rt.config
    held = published_host_ports(nginx) if nginx is not None else set()
    checks = []
    for key, port in (("HTTP", config.http_port), ("HTTPS", config.https_port)):
        if str(port) in held:
            status = "ours"
        else:
            status = "busy" if port_in_use(config.bind_address, port) else "free"
        checks.append(PortCheck(key, port, status))
    return checks
