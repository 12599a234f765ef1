"""`tr4ctl logs`: the services' logs, straight from compose."""

from __future__ import annotations

from tr4ctl.actions.preflight import require_stack
from tr4ctl.errors import BadInput
from tr4ctl.facts import ALL_SERVICES
from tr4ctl.runtime import Runtime


def show_logs(rt: Runtime, services: list[str], *, follow: bool, tail: str | None,
              timestamps: bool) -> int:
    """Returns compose's exit code."""
    unknown = [s for s in services if s not in ALL_SERVICES]
    if unknown:
        raise BadInput(f"unknown service {unknown[0]!r}", f"use one of {', '.join(ALL_SERVICES)}")
    if tail is not None and not (tail == "all" or tail.isdigit()):
        raise BadInput(f"--tail {tail!r} is not a number", "use --tail 100 or --tail all")
    require_stack(rt)
    return rt.engine.logs(services, follow=follow, tail=tail, timestamps=timestamps)
