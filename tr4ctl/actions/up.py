"""`tr4ctl up`: pre-flight (no impact), then init, files, compose up, wait for healthy."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from tr4ctl.actions.certificates import certificate_present
from tr4ctl.actions.init import (
    InitReport,
    ensure_env_file,
    ensure_volumes_and_network,
    remember_environment,
    update_state,
    write_if_changed,
)
from tr4ctl.actions.nginx_config import apply_nginx_config, reload_nginx
from tr4ctl.cli.context import AppContext
from tr4ctl.engine import ServiceState
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.files import read_json, write_atomic
from tr4ctl.plan.environments import Environment, nginx_mode_for
from tr4ctl.plan.layout import LONG_RUNNING_SERVICES
from tr4ctl.plan.stack import render_compose, render_nginx
from tr4ctl.ports import port_in_use

POLL_SECONDS = 0.1


@dataclass
class ServiceStartup:
    service: str
    state: str
    health: str | None
    seconds_to_healthy: float | None


@dataclass
class UpReport:
    env: str
    nginx_mode: str
    services: list[ServiceStartup] = field(default_factory=list)
    total_seconds: float = 0.0
    init: InitReport = field(default_factory=InitReport)


def preflight(ctx: AppContext, env: Environment) -> dict[str, ServiceState]:
    """Everything that can refuse `up` before anything changes; returns the services' states."""
    settings = ctx.settings
    ctx.engine.require_engine()
    ctx.engine.require_compose_v2()
    if env is Environment.PROD and not settings.domain:
        raise BadInput("--env prod needs the site's domain", "set TR4CTL_DOMAIN in .env")
    states = ctx.engine.service_states(LONG_RUNNING_SERVICES)
    check_ports_free(ctx, states["nginx"])
    return states


def check_ports_free(ctx: AppContext, ours: ServiceState) -> None:
    """A port held by this stack's own nginx is not busy."""
    settings = ctx.settings
    held_by_us = {port.split("->")[0].rsplit(":", 1)[-1] for port in ours.ports}
    for key, port in (("HTTP", settings.http_port), ("HTTPS", settings.https_port)):
        if str(port) in held_by_us:
            continue
        if port_in_use(settings.bind_address, port):
            raise BadInput(
                f"{key} port {port} on {settings.bind_address} is already in use",
                f"free it, or set TR4CTL_{key}_PORT in .env to a free port",
            )


def bring_up(ctx: AppContext, env: Environment, *, build: bool, timeout: float) -> UpReport:
    started = time.monotonic()
    before = preflight(ctx, env)
    report = UpReport(env=env.value, nginx_mode="")

    # Rendering is pure; validating needs the .env to exist, so it comes right after.
    ensure_env_file(ctx, report.init)
    settings = ctx.settings
    compose_text = render_compose(settings, env, ctx.paths)
    validate_compose_text(ctx, compose_text)

    # From here on, things change.
    ensure_volumes_and_network(ctx, report.init)
    write_if_changed(ctx.paths.compose_file, compose_text, report.init)
    has_certificate = env is Environment.PROD and certificate_present(ctx, settings.domain)
    mode = nginx_mode_for(env, has_certificate)
    report.nginx_mode = mode.value
    apply_nginx_config(ctx, render_nginx(settings, mode))
    remember_environment(ctx, env)

    ctx.engine.compose_up(build=build, services=list(LONG_RUNNING_SERVICES))
    report.services, after = wait_until_healthy(ctx, started, timeout)
    if _backend_replaced_under_running_nginx(before, after):
        # nginx resolved `backend` at start; a new backend container may have a new address.
        reload_nginx(ctx)
    report.total_seconds = round(time.monotonic() - started, 2)
    return report


def validate_compose_text(ctx: AppContext, compose_text: str) -> None:
    """`docker compose config` on the candidate file, unless this exact text passed before."""
    digest = hashlib.sha256(compose_text.encode()).hexdigest()
    if read_json(ctx.paths.state_file).get("validated_compose_sha256") == digest:
        return
    candidate = ctx.paths.compose_file.with_name("docker-compose.next.yml")
    write_atomic(candidate, compose_text)
    try:
        ctx.engine.validate_compose([candidate])
    finally:
        candidate.unlink(missing_ok=True)
    update_state(ctx, validated_compose_sha256=digest)


def wait_until_healthy(ctx: AppContext, started: float, timeout: float
                       ) -> tuple[list[ServiceStartup], dict[str, ServiceState]]:
    """Poll until every long-running service is healthy; returns the startups and the
    last states seen."""
    healthy_after: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    with ctx.out.status("waiting for services to be healthy") as status:
        while True:
            states = ctx.engine.service_states(LONG_RUNNING_SERVICES)
            now = time.monotonic()
            for name, state in states.items():
                if name in LONG_RUNNING_SERVICES and _is_healthy(state):
                    healthy_after.setdefault(name, round(now - started, 2))
            waiting = [name for name in LONG_RUNNING_SERVICES if name not in healthy_after]
            if not waiting:
                break
            dead = [name for name in waiting if states[name].state in ("exited", "dead")]
            if dead or now > deadline:
                raise _startup_failure(ctx, dead or waiting, states, timeout, bool(dead))
            if status is not None:
                status.update(f"waiting for {', '.join(waiting)} to be healthy")
            time.sleep(POLL_SECONDS)
    startups = [
        ServiceStartup(name, states[name].state, states[name].health, healthy_after.get(name))
        for name in LONG_RUNNING_SERVICES
    ]
    return startups, states


def _is_healthy(state: ServiceState) -> bool:
    return state.state == "running" and state.health in ("healthy", None)


def _startup_failure(ctx: AppContext, failing: list[str], states: dict[str, ServiceState],
                     timeout: float, exited: bool) -> OperationFailed:
    name = failing[0]
    state = states[name]
    why = "exited" if exited else f"not healthy after {timeout:.0f}s ({state.state}, {state.health})"
    tail = ctx.engine.log_tail(name, 20)
    return OperationFailed(
        f"service {name} {why}",
        f"its last log lines are below; `tr4ctl logs {name}` shows more",
        details=tail or "(no log output)",
    )


def _backend_replaced_under_running_nginx(before: dict[str, ServiceState],
                                          after: dict[str, ServiceState]) -> bool:
    nginx_before, nginx_after = before["nginx"], after["nginx"]
    return (
        nginx_before.container_id is not None
        and nginx_before.container_id == nginx_after.container_id
        and before["backend"].container_id != after["backend"].container_id
    )

