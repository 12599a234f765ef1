"""Checks several commands share, before anything changes: one rule each."""

from __future__ import annotations

from dataclasses import dataclass

from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput, MissingPrerequisite
from tr4ctl.plan.services import ServiceState, published_host_ports
from tr4ctl.ports import FREE, NOT_LOCAL, probe_bind
from tr4ctl.runtime import Runtime

NO_STACK = "the stack is not running: this project has no stack yet"


def require_stack(rt: Runtime, *, hint: str = "run `tr4ctl up` first") -> None:
    """An engine, and a stack rendered in this project dir (exit 3 without: what the
    command needs is not there)."""
    if not rt.paths.compose_file.exists():
        raise rt.no_project() if not rt.has_project else MissingPrerequisite(NO_STACK, hint)
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
    states = rt.engine.service_states(rt.services)
    if not any(state.state == "running" for state in states.values()):
        seen = ", ".join(f"{name} {state.state}" for name, state in states.items())
        raise MissingPrerequisite(f"the stack is not running ({seen})",
                                  "start it with `tr4ctl up`")
    return states


@dataclass(frozen=True)
class PortCheck:
    key: str  # HTTP or HTTPS
    address: str
    port: int
    status: str  # "ours" (this stack's nginx publishes it), FREE, BUSY or NOT_LOCAL

    @property
    def setting(self) -> str:
        return f"TR4CTL_{self.key}_PORT"

    @property
    def ok(self) -> bool:
        return self.status in ("ours", FREE)

    def problem(self) -> BadInput:
        if self.status == NOT_LOCAL:
            return BadInput(f"TR4CTL_BIND_ADDRESS {self.address} is not an address of this host",
                            "set TR4CTL_BIND_ADDRESS to one of this host's addresses, 0.0.0.0 "
                            "(every address) or 127.0.0.1 (this host only)")
        return BadInput(f"{self.key} port {self.port} on {self.address} is already in use",
                        f"free it, or set {self.setting} to a free port")


def check_ports(config: Config, nginx: ServiceState | None) -> list[PortCheck]:
    """Whether nginx's address:ports can be published. A port this stack's nginx holds
    counts as free (compose releases it first), but its address must still be local."""
    address = config.bind_address
    local = probe_bind(address, 0) != NOT_LOCAL
    held = published_host_ports(nginx) if nginx is not None else set()
    checks = []
    for key, port in (("HTTP", config.http_port), ("HTTPS", config.https_port)):
        if not local:
            status = NOT_LOCAL
        elif str(port) in held:
            status = "ours"
        else:
            status = probe_bind(address, port)
        checks.append(PortCheck(key, address, port, status))
    return checks


def require_ports(config: Config, nginx: ServiceState | None) -> None:
    """BadInput for the first address:port nginx could not publish."""
    for check in check_ports(config, nginx):
        if not check.ok:
            raise check.problem()
