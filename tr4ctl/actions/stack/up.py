"""`tr4ctl up`: pre-flight (no impact), then init, files, compose up, wait for healthy."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from tr4ctl.actions.cert.lineages import certificate_present
from tr4ctl.actions.cert.request import require_acme_ca_bundle_setting
from tr4ctl.actions.db.identity import (
    adopt_database,
    require_database_as_recorded,
    require_new_database_login,
    require_password_unchanged,
)
from tr4ctl.actions.images.backend_build import build_backend_image
from tr4ctl.actions.images.nodes import ship_to_nodes
from tr4ctl.actions.nginx.apply import apply_nginx_config, reload_nginx
from tr4ctl.actions.preflight import require_ports
from tr4ctl.actions.stack.init import (
    ensure_env_file,
    ensure_volumes_and_network,
    write_if_changed,
)
from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.actions.stack.private_files import ensure_database_password, write_private_files
from tr4ctl.actions.stack.target_switch import (
    leave_other_target,
    network_fits_target,
    other_target_running,
)
from tr4ctl.assets import require_template_dir
from tr4ctl.config.envfile import SECRET_KEY, secret_problem
from tr4ctl.config.load import read_env_file
from tr4ctl.docker.health import ServiceStartup, wait_healthy
from tr4ctl.errors import Interrupted
from tr4ctl.facts import POSTGRES, SWARM, stack_services
from tr4ctl.files import write_atomic
from tr4ctl.interrupts import signal_name
from tr4ctl.plan.environments import Environment, nginx_mode_for
from tr4ctl.plan.healthchecks import healthcheck_timing
from tr4ctl.plan.readiness import settings_refusal
from tr4ctl.plan.services import ServiceState
from tr4ctl.plan.stack import render_compose, render_nginx
from tr4ctl.plan.swarm import swarm_refusal
from tr4ctl.project.state import (
    now_text,
    read_state,
    record_up_step,
    remember_environment,
    unfinished_up,
    up_finished,
    update_state,
)
from tr4ctl.runtime import TARGET_KEY, Runtime


@dataclass
class UpReport:
    env: str
    nginx_mode: str
    services: list[ServiceStartup] = field(default_factory=list)
    total_seconds: float = 0.0
    init: InitReport = field(default_factory=InitReport)
    shipped: list[dict] = field(default_factory=list)  # on a swarm: to the other nodes


def preflight(rt: Runtime, env: Environment) -> dict[str, ServiceState]:
    """Everything that can refuse `up` before anything changes; returns the services' states."""
    config = rt.config
    require_settings(rt, env)
    rt.engine.require_engine()
    rt.engine.require_compose_v2()  # on a swarm too: it builds the backend's image
    if config.target == SWARM:
        require_swarm(rt)
    elif config.backend_replicas > 1:
        rt.out.warn(f"TR4CTL_BACKEND_REPLICAS={config.backend_replicas} applies on a swarm "
                    "(`--target swarm`); on compose the backend is one container "
                    "(TR4CTL_GUNICORN_WORKERS gives it more workers)")
    # The data stays where it is: another database named in .env or the environment,
    # or a password PostgreSQL does not have, is refused before anything changes.
    require_database_as_recorded(rt)
    require_password_unchanged(rt)
    states = rt.engine.service_states(stack_services(config.database))
    if other_target_running(rt) is None:
        require_ports(config, states["nginx"])
    return states


def require_settings(rt: Runtime, env: Environment) -> None:
    """The settings `up --env <env>` needs, without the engine (`config validate` asks
    the same): the one rule of plan/readiness.py, and the ACME CA bundle certbot-renew
    mounts."""
    config = rt.config
    require_acme_ca_bundle_setting(config)
    if config.templates_dir is not None:  # before any file is written, not at rendering
        require_template_dir(config.templates_dir)
    # The backend would refuse to start with a bad secret: say so before anything changes.
    problem = secret_problem(config.backend_values.get(SECRET_KEY)) \
        if env is Environment.PROD and rt.paths.env_file.exists() else None
    refusal = settings_refusal(config, env, secret_problem=problem)
    if refusal is not None:
        raise refusal
    from tr4ctl.actions.backup.schedule import require_backup_files

    require_backup_files(config)


def require_swarm(rt: Runtime) -> None:
    """A manager (exit 3 otherwise), and a database every replica on every node reaches."""
    rt.engine.require_manager()
    refusal = swarm_refusal(rt.config, len(rt.engine.nodes()))
    if refusal is not None:
        raise refusal


def bring_up(rt: Runtime, env: Environment, *, build: bool, timeout: float) -> UpReport:
    started = time.monotonic()
    before = preflight(rt, env)
    report = UpReport(env=env.value, nginx_mode="")

    # Rendering is pure; validating needs the .env and the files the compose file names
    # (the backend's env file, the password secret) to exist, so they come right after.
    ensure_env_file(rt, report.init)
    ensure_database_password(rt, report.init)
    write_private_files(rt, report.init)
    compose_text = render_compose(rt.config, env, rt.paths, rt.stack_inputs)
    validate_compose_text(rt, compose_text)

    previous = unfinished_up(rt.paths)
    if previous is not None:
        rt.out.warn(f"the last {previous.describe()}: finishing it now")
    steps = UpSteps(rt, env)
    try:
        _change(rt, env, steps, report, before, compose_text, build=build, timeout=timeout,
                started=started)
    except KeyboardInterrupt:
        raise Interrupted(f"`up` interrupted ({signal_name()}) while {steps.current}",
                          "the stack may be half up: `tr4ctl status` shows it, "
                          f"`tr4ctl up --env {env.value}` finishes it") from None
    up_finished(rt.paths)
    report.total_seconds = round(time.monotonic() - started, 2)
    return report


class UpSteps:
    """The step `up` is in, recorded in the project's state before it changes anything,
    so an `up` killed at any point is named by the next `status` or `up`."""

    def __init__(self, rt: Runtime, env: Environment):
        self.rt = rt
        self.env = env
        self.started = now_text()
        self.current = "checking"

    def enter(self, step: str) -> None:
        self.current = step
        record_up_step(self.rt.paths, self.env, step, self.started)


def _change(rt: Runtime, env: Environment, steps: UpSteps, report: UpReport,
            before: dict[str, ServiceState], compose_text: str, *, build: bool,
            timeout: float, started: float) -> None:
    config = rt.config
    other = other_target_running(rt)
    if other is not None:
        steps.enter(f"taking the stack down on {other}")
        leave_other_target(rt, other)
    network_fits_target(rt)
    steps.enter("creating the volumes, the network and the files")
    ensure_volumes_and_network(rt, report.init)
    on_swarm = config.target == SWARM
    # A git source is built at its commit from a temporary clone (labelled with it),
    # never by compose from the repository's work tree.
    own_source = rt.backend_source.image is not None
    if on_swarm:
        rt.engine.label_this_node_stateful()
    if (on_swarm or own_source) and (
            build or not rt.engine.image_exists(rt.stack_inputs.backend_image)):
        steps.enter("building the backend image")
        with rt.out.progress("building the backend image"):
            build_backend_image(rt, env, rt.stack_inputs.backend_image)
    if on_swarm:
        # A replica placed on a node without the image fails: only the ids they lack go.
        steps.enter("shipping the backend image to the other nodes")
        report.shipped = [result.as_dict() for result in
                          ship_to_nodes(rt, [rt.stack_inputs.backend_image])]
    write_if_changed(rt.paths.compose_file, compose_text, report.init)
    has_certificate = env is Environment.PROD and certificate_present(rt, config.domain)
    mode = nginx_mode_for(env, has_certificate)
    report.nginx_mode = mode.value
    apply_nginx_config(rt, render_nginx(config, mode, rt.stack_inputs))
    remember_environment(rt.paths, env)
    remember_target(rt)

    services = rt.services
    adopt_database(rt)
    if POSTGRES in services and not on_swarm and not _compose_waits_for_health(rt):
        # The backend's migrations need PostgreSQL answering, and compose cannot tell
        # within a second on this engine (plan/healthchecks.py): started and asked first.
        steps.enter("starting PostgreSQL")
        with rt.out.progress("starting PostgreSQL"):
            rt.engine.compose_up([POSTGRES])
            wait_healthy(rt.engine, (POSTGRES,), timeout=timeout, started=started)
    steps.enter("starting the containers")
    with rt.out.progress("starting the containers"):
        rt.engine.compose_up(list(services), build=build and not own_source,
                             remove_orphans=True)
    steps.enter("waiting for the services to be healthy")
    with rt.out.progress("waiting for the services to be healthy") as show:
        report.services, after = wait_healthy(
            rt.engine, services, timeout=timeout, started=started,
            on_wait=lambda waiting: show(f"waiting for {', '.join(waiting)} to be healthy"))
    if config.database == POSTGRES:
        steps.enter("logging in to PostgreSQL as the backend's next start will")
        require_new_database_login(rt)
    if not on_swarm and _backend_replaced_under_running_nginx(before, after):
        # nginx resolved `backend` at start; a new backend container may have a new address.
        steps.enter("reloading nginx")
        reload_nginx(rt)


def _compose_waits_for_health(rt: Runtime) -> bool:
    inputs = rt.stack_inputs
    return healthcheck_timing(rt.config.healthcheck_interval, swarm=False,
                              engine_version=inputs.engine_version,
                              compose_version=inputs.compose_version).compose_waits_for_health


def remember_target(rt: Runtime) -> None:
    """`up --target` is kept in .env: every later command works on the same target."""
    from tr4ctl.config.store import save_env_values

    option = rt.config_options.get(TARGET_KEY)
    if option and read_env_file(rt.paths.env_file).values.get(TARGET_KEY) != option:
        save_env_values(rt.paths.env_file, {TARGET_KEY: option}, options=rt.config_options)


def validate_compose_text(rt: Runtime, compose_text: str) -> None:
    """`docker compose config` on the candidate file, unless this exact text passed before."""
    digest = hashlib.sha256(compose_text.encode()).hexdigest()
    if read_state(rt.paths).get("validated_compose_sha256") == digest:
        return
    candidate = rt.paths.compose_file.with_name("docker-compose.next.yml")
    write_atomic(candidate, compose_text)
    try:
        rt.engine.validate_compose([candidate])
    finally:
        candidate.unlink(missing_ok=True)
    update_state(rt.paths, validated_compose_sha256=digest)


def _backend_replaced_under_running_nginx(before: dict[str, ServiceState],
                                          after: dict[str, ServiceState]) -> bool:
    nginx_before, nginx_after = before["nginx"], after["nginx"]
    return (
        nginx_before.container_id is not None
        and nginx_before.container_id == nginx_after.container_id
        and before["backend"].container_id != after["backend"].container_id
    )
