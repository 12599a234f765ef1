"""`tr4ctl logs`: the services' logs, straight from compose (or as JSON lines)."""

from __future__ import annotations

from tr4ctl.actions.preflight import require_stack
from tr4ctl.errors import BadInput, MissingPrerequisite
from tr4ctl.facts import ALL_SERVICES
from tr4ctl.plan.logs import log_record
from tr4ctl.runtime import Runtime


def show_logs(rt: Runtime, services: list[str], *, follow: bool, tail: str | None,
              timestamps: bool, as_json: bool) -> int:
    """Returns compose's exit code. With as_json, one JSON object per log line: tr4ctl
    adds nothing of its own to the stream."""
    unknown = [s for s in services if s not in ALL_SERVICES]
    if unknown:
        raise BadInput(f"unknown service {unknown[0]!r}", f"use one of {', '.join(ALL_SERVICES)}")
    if tail is not None and not (tail == "all" or tail.isdigit()):
        raise BadInput(f"--tail {tail!r} is not a number", "use --tail 100 or --tail all")
    require_containers(rt, services)
    try:
        if not as_json:
            return rt.engine.logs(services, follow=follow, tail=tail, timestamps=timestamps)
        for line in rt.engine.log_lines(services, follow=follow, tail=tail,
                                        timestamps=timestamps):
            rt.out.write_json(log_record(line, timestamps=timestamps))
    except KeyboardInterrupt:
        if not follow:
            raise
        return 0  # Ctrl-C is how one stops following: the end, not an error
    return 0


def require_containers(rt: Runtime, services: list[str]) -> None:
    """Logs live with the containers: after `down` there are none to show (exit 3, not an
    empty success). A stopped container still has its logs, which is when they matter."""
    require_stack(rt)
    wanted = tuple(services) or rt.services
    states = rt.engine.service_states(wanted)
    if all(states[name].state == "absent" for name in wanted):
        raise MissingPrerequisite(
            f"the stack is not running: no container of {', '.join(wanted)} to show logs of",
            "start it with `tr4ctl up`")
