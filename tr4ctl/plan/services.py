"""What the engine says about a service, and the one notion of "healthy"."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tr4ctl.plan.healthchecks import not_ready_reason, own_check_is_newer

# A service whose container ended cannot become healthy by waiting.
ENDED_STATES = ("exited", "dead")


@dataclass
class ServiceState:
    service: str
    container_id: str | None
    state: str  # running, exited, restarting, created, paused, dead, absent
    health: str | None  # healthy, unhealthy, starting, None (no healthcheck)
    image: str | None = None
    ports: list[str] = field(default_factory=list)
    env: str | None = None
    started_at: str | None = None
    restart_count: int = 0
    user: str | None = None
    name: str | None = None  # the container's name (another container reaches it by it)
    replicas: str | None = None  # on a swarm: running/desired tasks
    nodes: list[str] = field(default_factory=list)  # on a swarm: the nodes its tasks run on
    main_pid: int | None = None  # the container's first process, as the host sees it
    # The engine's last healthcheck: when it ended and what it printed (the backend's
    # says whether /ready answers). None before the engine's first check.
    checked_at: str | None = None
    check_output: str | None = None
    # Whose check `health` comes from: the engine's, or tr4ctl's own run of the same
    # check while the engine's first one was still due (plan/healthchecks.py).
    health_by: str = "engine"

    @property
    def healthy(self) -> bool:
        return is_healthy(self.state, self.health)


def is_healthy(state: str, health: str | None) -> bool:
    """Running, and its healthcheck passes (a service without one counts as healthy)."""
    return state == "running" and health in ("healthy", None)


def absent(service: str) -> ServiceState:
    return ServiceState(service, None, "absent", None)


def state_from_inspect(service: str, container: dict[str, Any]) -> ServiceState:
    """One `docker inspect` document (the CLI's and the Engine API's are the same)."""
    state, config = container["State"], container["Config"]
    health_log = (state.get("Health") or {}).get("Log") or []
    last_check = health_log[-1] if health_log else {}
    ports = []
    for container_port, bindings in ((container.get("NetworkSettings") or {}).get("Ports")
                                     or {}).items():
        for binding in bindings or []:
            ports.append(f"{binding['HostIp']}:{binding['HostPort']}->{container_port}")
    return ServiceState(
        service=service,
        container_id=container["Id"],
        state=state["Status"],
        health=(state.get("Health") or {}).get("Status"),
        image=config.get("Image"),
        ports=sorted(ports),
        env=(config.get("Labels") or {}).get("io.tr4ctl.env"),
        started_at=state.get("StartedAt") if state.get("Running") else None,
        restart_count=container.get("RestartCount", 0),
        user=config.get("User") or "root",
        name=str(container.get("Name", "")).lstrip("/") or None,
        main_pid=state.get("Pid") or None,
        checked_at=last_check.get("End"),
        check_output=last_check.get("Output"),
    )


def engine_undecided(state: ServiceState) -> bool:
    """Running, and the engine's verdict may be stale: its first check not yet run
    ("starting"), an "unhealthy" an interval old, or a "healthy" whose output says the
    backend was live but not ready then (with start_interval the engine's checks slow
    down at the first pass, so that output may stay an interval). The container's own
    check, run now by tr4ctl, decides (plan/healthchecks.py)."""
    if state.state != "running" or state.health_by != "engine":
        return False
    return state.health in ("starting", "unhealthy") or (
        state.health == "healthy" and not_ready_reason(state.check_output) is not None)


def ready(state: ServiceState) -> bool:
    """The one notion of healthy that `status`, `up` and every wait share: healthy, and
    not live-but-not-ready by the engine's last check (stack_condition)."""
    return state.healthy and not engine_undecided(state)


def passed_own_check(state: ServiceState) -> ServiceState:
    """tr4ctl ran the container's own healthcheck just now and it passed."""
    return replace(state, health="healthy", health_by="tr4ctl")


def with_own_checks(states: dict[str, ServiceState], seen_ready: dict[str, str]
                    ) -> dict[str, ServiceState]:
    """The states with tr4ctl's record of containers it saw pass their check, ready
    (container id -> when), applied where it is newer than the engine's own last check."""
    found = {}
    for name, state in states.items():
        seen = seen_ready.get(state.container_id or "")
        if engine_undecided(state) \
                and own_check_is_newer(seen, state.started_at, state.checked_at):
            state = passed_own_check(state)
        found[name] = state
    return found


_SUMMARY_HEALTH = (("(healthy)", "healthy"), ("(unhealthy)", "unhealthy"),
                   ("(health: starting)", "starting"))


def state_from_summary(service: str, summary: dict[str, Any]) -> ServiceState:
    """One entry of the engine's container list: enough to wait on (state and health,
    the latter from the same "Up 3s (healthy)" text `docker ps` shows), one request for
    every container instead of one each."""
    status = summary.get("Status") or ""
    health = next((value for marker, value in _SUMMARY_HEALTH if marker in status), None)
    return ServiceState(service=service, container_id=summary["Id"], state=summary["State"],
                        health=health, image=summary.get("Image"),
                        env=(summary.get("Labels") or {}).get("io.tr4ctl.env"))


def project_summaries(summaries: list[dict[str, Any]], services: tuple[str, ...]
                      ) -> dict[str, ServiceState]:
    found = {}
    for summary in summaries:
        labels = summary.get("Labels") or {}
        service = labels.get("com.docker.compose.service")
        if service is not None and labels.get("com.docker.compose.oneoff") != "True":
            found[service] = state_from_summary(service, summary)
    return {name: found.get(name, absent(name)) for name in services}


def project_states(containers: list[dict[str, Any]], services: tuple[str, ...]
                   ) -> dict[str, ServiceState]:
    """The named services (absent when no container), then any other service found.

    One-off containers (`compose run`) are not the service."""
    found: dict[str, ServiceState] = {}
    for container in containers:
        labels = container["Config"].get("Labels") or {}
        service = labels.get("com.docker.compose.service")
        if service is None or labels.get("com.docker.compose.oneoff") == "True":
            continue
        found[service] = state_from_inspect(service, container)
    wanted = {name: found.get(name, absent(name)) for name in services}
    return wanted | {name: state for name, state in found.items() if name not in services}


def published_host_ports(state: ServiceState) -> set[str]:
    """The host ports a service publishes ("127.0.0.1:8080->80/tcp" gives "8080")."""
    return {port.split("->")[0].rsplit(":", 1)[-1] for port in state.ports}


def describe_state(state: ServiceState) -> str:
    """How a service falls short: "created, not running", "running, health unhealthy"."""
    if state.state == "absent":
        return "absent (no container)"
    if state.replicas and state.state != "running":
        return f"{state.state}, {state.replicas} replicas running"
    if state.state != "running":
        return f"{state.state}, not running"
    return f"running, health {state.health}"


def stack_condition(states: dict[str, ServiceState], services: tuple[str, ...],
                    *, unfinished: bool = False) -> tuple[str, list[str]]:
    """("healthy" | "degraded" | "stopped", what falls short).

    stopped: no service runs and nothing was left half done (after `down`, or never
    started). degraded: anything between, including an `up` that did not finish even if
    every service came up (its last step, an nginx reload, may be missing)."""
    problems = [f"{name} is {describe_state(states[name])}" for name in services
                if not states[name].healthy]
    # Live but not ready (its database or Chroma unreachable): the backend's own check
    # says so in its output, which the engine keeps.
    problems += [f"{name} is not ready: {reason}" for name in services
                 if states[name].healthy and states[name].health_by == "engine"
                 and (reason := not_ready_reason(states[name].check_output))]
    if not problems and not unfinished:
        return "healthy", []
    if unfinished or any(states[name].state == "running" for name in services):
        return "degraded", problems
    return "stopped", problems
