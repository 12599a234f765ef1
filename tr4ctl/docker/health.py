"""The one wait loop: until every named service is healthy (plan/services.is_healthy),
or one of them ends, or time runs out. Used by up, backup, restore, verify, deploy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tr4ctl.docker.engine import Engine
from tr4ctl.errors import OperationFailed
from tr4ctl.plan.services import ENDED_STATES, ServiceState

# One read of the engine's container list per turn: cheap enough to ask often.
POLL_SECONDS = 0.05
LOG_LINES_ON_FAILURE = 20


@dataclass
class ServiceStartup:
    service: str
    state: str
    health: str | None
    seconds_to_healthy: float | None


def wait_healthy(engine: Engine, services: tuple[str, ...], *, timeout: float,
                 started: float | None = None,
                 on_wait: Callable[[list[str]], None] | None = None,
                 read: Callable[[], dict[str, ServiceState]] | None = None,
                 ) -> tuple[list[ServiceStartup], dict[str, ServiceState]]:
    """The startups (seconds from `started` to healthy) and the last states seen.

    `read` gives the states to wait on (default: the services' own); raises
    OperationFailed naming the first failing one, with its last log lines."""
    started = time.monotonic() if started is None else started
    deadline = time.monotonic() + timeout
    healthy_after: dict[str, float] = {}
    own_read = read is not None
    while True:
        states = read() if read is not None else engine.quick_states(services)
        now = time.monotonic()
        for name in services:
            if states[name].healthy:
                healthy_after.setdefault(name, round(now - started, 2))
        waiting = [name for name in services if name not in healthy_after]
        if not waiting:
            break
        ended = [name for name in waiting if states[name].state in ENDED_STATES]
        if ended or now > deadline:
            raise _not_healthy(engine, (ended or waiting)[0], states, timeout, bool(ended))
        if on_wait is not None:
            on_wait(waiting)
        time.sleep(POLL_SECONDS)
    startups = [ServiceStartup(name, states[name].state, states[name].health,
                               healthy_after.get(name)) for name in services]
    # The full picture (ports, restart counts) for the caller, read once at the end.
    return startups, states if own_read else engine.service_states(services)


def _not_healthy(engine: Engine, name: str, states: dict[str, ServiceState], timeout: float,
                 ended: bool) -> OperationFailed:
    state = states[name]
    why = "exited" if ended else f"not healthy after {timeout:.0f}s ({state.state}, {state.health})"
    tail = engine.container_logs(state.container_id, LOG_LINES_ON_FAILURE) \
        if state.container_id else engine.log_tail(name, LOG_LINES_ON_FAILURE)
    return OperationFailed(
        f"service {name} {why}",
        f"its last log lines are below; `tr4ctl logs {state.service}` shows more",
        details=tail or "(no log output)",
    )
