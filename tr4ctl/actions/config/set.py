"""`tr4ctl config set KEY=VALUE...`: settings into the project's .env.

Each assignment is checked alone (a known key, its rule, no control character, no
secret: argv is visible to every process), then the whole resulting configuration, and
only then is .env replaced, atomically, under the stack's lock. The report says what
the change reaches: running services to recreate, keys the environment overrides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tr4ctl.actions.config.paths import PATH_KEYS, check_path_settings
from tr4ctl.actions.db.identity import database_refusal, stack_database
from tr4ctl.actions.preflight import require_ports
from tr4ctl.actions.stack.init import ensure_env_file
from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.config.envfile import with_values
from tr4ctl.config.keys import KEYS, TR4CTL, WORKSTATION_KEYS, closest_key
from tr4ctl.config.load import read_env_file
from tr4ctl.config.model import Config
from tr4ctl.config.store import save_env_values
from tr4ctl.config.values import control_character
from tr4ctl.errors import BadInput, Tr4ctlError
from tr4ctl.facts import SWARM
from tr4ctl.files import write_private
from tr4ctl.plan.masking import is_secret_key, secret_in_value
from tr4ctl.plan.readiness import REPLICAS_KEY, replicas_refusal
from tr4ctl.plan.services import ServiceState
from tr4ctl.plan.stack import backend_settings
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import TARGET_KEY, Runtime

DATABASE_KEYS = {"TR4CTL_DATABASE", "DATABASE_URL"}

DATABASE_KEY = "TR4CTL_DATABASE"


@dataclass
class SetReport:
    written: list[str]
    # Running services that still run with the old values, and the command applying them.
    to_recreate: list[str] = field(default_factory=list)
    apply_with: str | None = None
    # Keys whose value in the environment wins over the one just written.
    overridden: list[str] = field(default_factory=list)
    # Backend keys the stack itself sets for the container (the written value is unused).
    set_by_stack: dict[str, str] = field(default_factory=dict)
    # Keys written that the current target does not use, and what happens instead.
    unused_here: dict[str, str] = field(default_factory=dict)


def parse_assignments(assignments: list[str], env_file: str) -> dict[str, str]:
    """KEY=VALUE pairs, each checked alone; values in their canonical form."""
    updates: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BadInput(f"{item[:60]!r} is not KEY=VALUE",
                           "e.g. tr4ctl config set TR4CTL_HTTP_PORT=8080")
        if problem := control_character(item):
            raise BadInput(f"the assignment to {name[:40]} contains {problem}",
                           "one KEY=VALUE per argument, on one line")
        key = KEYS.get(name)
        if key is None:
            meant = closest_key(name)
            raise BadInput(f"unknown setting {name[:60]}",
                           f"did you mean {meant}?" if meant else
                           "`tr4ctl config show` lists the known settings")
        if is_secret_key(name):
            raise BadInput(f"{name} is a secret and argv is visible to every process",
                           f"edit {env_file} instead (it is kept 0600)")
        if problem := secret_in_value(value):
            raise BadInput(f"the value for {name} looks like a secret: {problem}",
                           f"argv is visible to every process: edit {env_file} instead")
        try:
            typed = key.parse(value) if value else None
        except ValueError as exc:
            raise BadInput(f"setting {name} is invalid: {exc}", f"fix the value of {name}"
                           ) from None
        updates[name] = _canonical(value, typed)
    return updates


WORKSTATION_ENV_HEADER = ("# tr4ctl workstation settings: how to reach the host "
                          "(README: Remote hosts).\n"
                          "# The stack's own settings live in the host's .env.\n")


def workstation_only(updates: dict[str, str]) -> bool:
    """Every key set is one the workstation keeps for itself (TR4CTL_HOST and the rest)."""
    return bool(updates) and set(updates) <= set(WORKSTATION_KEYS)


def _canonical(text: str, typed: object) -> str:
    """What is written: the rule's normal form (a domain in lower case, a port without
    spaces), so that `config show` prints back exactly what was written."""
    if isinstance(typed, bool) or typed is None or isinstance(typed, list):
        return text.strip()
    if isinstance(typed, str | int | float):
        return str(typed)
    return text.strip()


def set_values(rt: Runtime, assignments: list[str], *, if_unset: bool) -> SetReport:
    env_file = rt.paths.env_file
    updates = parse_assignments(assignments, str(env_file))
    if workstation_only(updates) and not os.path.lexists(env_file):
        # A workstation that only reaches a host: its .env holds how (README "Remote
        # hosts"), never a stack's settings or a JWT secret nothing here would use.
        write_private(env_file, with_values(WORKSTATION_ENV_HEADER, updates))
        return SetReport(sorted(updates))
    ensure_env_file(rt, InitReport())
    current = read_env_file(env_file).values
    if if_unset:
        updates = {k: v for k, v in updates.items() if not current.get(k)}
    secrets = tuple(v for k, v in current.items() if is_secret_key(k) and v)
    for name, value in updates.items():
        if problem := secret_in_value(value, secrets):
            raise BadInput(f"the value for {name} looks like a secret: {problem}",
                           f"argv is visible to every process: edit {env_file} instead")
    _refuse_renaming_a_running_stack(rt, updates)
    nginx = _running_nginx(rt)
    publishing = {"TR4CTL_BIND_ADDRESS", "TR4CTL_HTTP_PORT", "TR4CTL_HTTPS_PORT"} & set(updates)

    # The stack's database is state (`tr4ctl db use` changes it): its data is looked up
    # only when a database key is being set.
    stack = stack_database(rt) if DATABASE_KEYS & set(updates) else None

    def usable(config: Config) -> None:
        # Refused now what a later command would trip over: another database than the
        # data's, a path that is not there or not of its kind, replicas SQLite cannot
        # serve, a swarm target on an engine that is no manager, and (before `up` has
        # removed the running nginx) a bind address that is not this host's, or a busy port.
        # What .env will say, even where the environment overrides it today.
        database = updates.get("TR4CTL_DATABASE")
        written = config if database is None else \
            config.replace(database=database or KEYS["TR4CTL_DATABASE"].default)
        refusal = database_refusal(stack, written, str(env_file), setting=True)
        if refusal is not None:
            raise refusal
        check_path_settings(config, rt.project_dir, [k for k in updates if k in PATH_KEYS])
        if {REPLICAS_KEY, DATABASE_KEY} & set(updates) and (refusal := replicas_refusal(config)):
            raise refusal
        if publishing:
            require_ports(config, nginx)
        if updates.get(TARGET_KEY) == SWARM:
            rt.engine_for(config.replace(target=SWARM)).require_manager()

    if not save_env_values(env_file, updates, options=rt.config_options, check=usable):
        return SetReport(sorted(updates))
    rt.reload_config()
    return _report(rt, sorted(updates), changed=[k for k in updates if current.get(k) != updates[k]])


def _running_nginx(rt: Runtime) -> ServiceState | None:
    if not rt.paths.compose_file.exists():
        return None
    try:
        return rt.engine.service_states(("nginx",))["nginx"]
    except Tr4ctlError:
        return None


def _refuse_renaming_a_running_stack(rt: Runtime, updates: dict[str, str]) -> None:
    new = updates.get("TR4CTL_PROJECT_NAME")
    if new is None or not rt.paths.compose_file.exists():
        return
    try:
        old = rt.config.project_name
        running = [s for s, state in rt.engine.service_states(()).items()
                   if state.state != "absent"]
    except Tr4ctlError:  # a broken .env (this command may be repairing it), no engine
        return
    if new == old:
        return
    if running:
        raise BadInput(f"project {old} has containers ({', '.join(sorted(running))}): renaming "
                       f"it to {new} would leave them and its volumes behind",
                       f"run `tr4ctl down` first (the data volumes {old}_* stay), "
                       "or keep the name")


def _report(rt: Runtime, written: list[str], *, changed: list[str]) -> SetReport:
    report = SetReport(written)
    report.overridden = [k for k in written if KEYS[k].reader == TR4CTL and os.environ.get(k)]
    env = last_environment(rt.paths)
    fixed = backend_settings(rt.config, env)
    report.set_by_stack = {k: by for k, (_, by) in fixed.items() if k in written}
    if REPLICAS_KEY in written and rt.config.target != SWARM:
        # The compose file has one backend whatever the number: `up` would not apply it.
        report.unused_here[REPLICAS_KEY] = (
            "applies on a swarm only (TR4CTL_TARGET=swarm); on compose the backend stays one "
            "container (TR4CTL_GUNICORN_WORKERS gives it more workers)")
        changed = [k for k in changed if k != REPLICAS_KEY]
    reached = sorted({service for k in changed for service in KEYS[k].applies_to})
    if not reached or not rt.paths.compose_file.exists():
        return report
    try:
        states = rt.engine.service_states(tuple(reached))
    except Tr4ctlError:
        return report
    report.to_recreate = [s for s in reached if states[s].state == "running"]
    if report.to_recreate:
        report.apply_with = f"tr4ctl up --env {env.value}"
    return report
