"""The one wait loop: until every named service is healthy by the one notion `status`
uses (plan/services.ready), or one of them ends, or time runs out. Used by up, backup,
restore, verify, deploy.

The engine's own checks are slow once a service is up (plan/healthchecks.py), and on an
engine without start_interval its first check of a new container comes a whole interval
after the start. So a running service whose engine verdict may be stale (still
"starting", an "unhealthy" an interval old, or, with start_interval, a "healthy" whose
output says live but not ready: the engine's checks slowed down at its first pass) is
asked directly: its own healthcheck, run once in its container, at most every
PROBE_SECONDS. A pass, ready, counts as healthy and is remembered (engine.seen_ready) so
that `status` agrees until the engine's own check catches up: right after a wait says
healthy, `status --check` does too."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tr4ctl.docker.engine import Engine
from tr4ctl.errors import OperationFailed
from tr4ctl.plan.healthchecks import not_ready_reason
from tr4ctl.plan.services import (
    ENDED_STATES,
    ServiceState,
    engine_undecided,
    passed_own_check,
    ready,
)

# One read of the engine's container list per turn: cheap enough to ask often.
POLL_SECONDS = 0.05
LOG_LINES_ON_FAILURE = 20
# Between two runs of one service's check by the wait (each is a `docker exec`).
PROBE_SECONDS = 0.2


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
    next_probe: dict[str, float] = {}
    own_read = read is not None
    while True:
        states = read() if read is not None else engine.quick_states(services)
        states = _ask_undecided(engine, services, states, healthy_after, next_probe)
        now = time.monotonic()
        for name in services:
            if ready(states[name]):
                healthy_after.setdefault(name, round(now - started, 2))
        waiting = [name for name in services if name not in healthy_after]
        pause = POLL_SECONDS
        if not waiting and not own_read:
            # The quick read has no check output: the full one says whether the engine's
            # "healthy" was live but not ready (then the container is asked itself).
            states = _ask_undecided(engine, services, engine.service_states(services), {},
                                    next_probe)
            waiting = [name for name in services if not ready(states[name])]
            for name in waiting:
                healthy_after.pop(name, None)
            pause = PROBE_SECONDS
        if not waiting:
            break
        ended = [name for name in waiting if states[name].state in ENDED_STATES]
        if ended or now > deadline:
            raise _not_healthy(engine, (ended or waiting)[0], states, timeout, bool(ended))
        if on_wait is not None:
            on_wait(waiting)
        time.sleep(pause)
    startups = [ServiceStartup(name, states[name].state, states[name].health,
                               healthy_after.get(name)) for name in services]
    # The full picture (ports, restart counts, check output) for the caller.
    return startups, states


def _ask_undecided(engine: Engine, services: tuple[str, ...], states: dict[str, ServiceState],
                   healthy_after: dict[str, float], next_probe: dict[str, float]
                   ) -> dict[str, ServiceState]:
    """The states, with the undecided running services' own checks run (in parallel)."""
    now = time.monotonic()
    due = [name for name in services if name not in healthy_after
           and engine_undecided(states[name])
           and states[name].container_id and next_probe.get(name, 0.0) <= now]
    if not due:
        return states
    if len(due) == 1:
        passed = [engine.passes_own_check(states[due[0]].container_id or "")]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(due)) as pool:
            passed = list(pool.map(lambda name: engine.passes_own_check(
                states[name].container_id or ""), due))
    states = dict(states)
    seen_at = datetime.now(UTC).isoformat()
    for name, ok in zip(due, passed, strict=True):
        next_probe[name] = time.monotonic() + PROBE_SECONDS
        if ok:
            states[name] = passed_own_check(states[name])
            engine.seen_ready[states[name].container_id or ""] = seen_at
    return states


def _not_healthy(engine: Engine, name: str, states: dict[str, ServiceState], timeout: float,
                 ended: bool) -> OperationFailed:
    state = states[name]
    reason = not_ready_reason(state.check_output) if state.healthy else None
    why = ("exited" if ended else f"not ready after {timeout:.0f}s ({reason})" if reason
           else f"not healthy after {timeout:.0f}s ({state.state}, {state.health})")
    tail = engine.container_logs(state.container_id, LOG_LINES_ON_FAILURE) \
        if state.container_id else engine.log_tail(name, LOG_LINES_ON_FAILURE)
    return OperationFailed(
        f"service {name} {why}",
        f"its last log lines are below; `tr4ctl logs {state.service}` shows more",
        details=tail or "(no log output)",
    )
