"""`tr4ctl status`: each service's state, health, ports, image and env."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tr4ctl.actions.nginx.apply import active_nginx_mode
from tr4ctl.facts import ALL_SERVICES
from tr4ctl.runtime import Runtime


@dataclass
class StackStatus:
    project: str
    nginx_config: str | None
    services: list[dict[str, Any]]


def stack_status(rt: Runtime) -> StackStatus:
    rt.engine.require_engine()
    states = rt.engine.service_states(ALL_SERVICES)
    if not rt.has_project and all(state.state == "absent" for state in states.values()):
        raise rt.no_project()
    # certbot is a tool run on demand: shown only while a run exists.
    services = [asdict(state) for name, state in states.items()
                if not (name == "certbot" and state.state == "absent")]
    return StackStatus(rt.config.project_name, active_nginx_mode(rt), services)
