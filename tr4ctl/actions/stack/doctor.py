"""`tr4ctl doctor`: pre-flight checks, each failure with its fix. Each reads; none
changes anything."""

from __future__ import annotations

import stat
from dataclasses import asdict, dataclass

from tr4ctl.actions.checks.backend_parts import image_parts
from tr4ctl.actions.disk_space import free_space
from tr4ctl.actions.preflight import check_ports
from tr4ctl.config.envfile import SECRET_KEY, secret_problem
from tr4ctl.errors import ExitCode, Tr4ctlError
from tr4ctl.facts import POSTGRES
from tr4ctl.plan.backend_contract import contract_report
from tr4ctl.plan.disk_space import LOW_SPACE_FIX
from tr4ctl.runtime import Runtime


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    # A failure every other command reports as exit 3 (no engine, no compose plugin).
    prerequisite: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def exit_code(checks: list[Check]) -> int:
    """The code other commands would give for the same failure: 3 when the engine or
    the compose plugin is missing, 1 for any other failed check, 0 when all pass."""
    failing = [check for check in checks if not check.ok]
    if any(check.prerequisite for check in failing):
        return int(ExitCode.PREREQUISITE)
    return int(ExitCode.FAILED) if failing else int(ExitCode.OK)


def run_checks(rt: Runtime) -> list[Check]:
    checks = [check_settings(rt)]
    if not checks[0].ok:
        return checks
    engine = check_engine(rt)
    checks.append(engine)
    checks.append(check_compose(rt))
    checks.extend(check_port_use(rt, engine_ok=engine.ok))
    checks.append(check_disk(rt, engine_ok=engine.ok))
    checks.append(check_env_file(rt))
    checks.append(check_database(rt, engine_ok=engine.ok))
    contract = check_backend_contract(rt, engine_ok=engine.ok)
    if contract is not None:
        checks.append(contract)
    dns = check_network_dns(rt, engine_ok=engine.ok)
    if dns is not None:
        checks.append(dns)
    return checks


# Run in a container of the stack: the names its resolver (Docker's, on the stack's
# network) does not answer for, one a line. Each lookup bounded: a resolver that is gone
# makes getent wait for its timeouts.
DNS_PROBE = 'for name; do timeout 3 getent hosts "$name" >/dev/null 2>&1 || echo "$name"; done'


def check_network_dns(rt: Runtime, *, engine_ok: bool) -> Check | None:
    """The stack network's DNS answers, inside the backend, for every running service
    (a stack whose containers no longer resolve each other serves 502s and not-ready)."""
    if not engine_ok:
        return None
    states = rt.engine.service_states(rt.services)
    running = [name for name in rt.services if states[name].state == "running"]
    asker = states.get("backend")
    if asker is None or asker.state != "running" or not asker.container_id:
        return None  # nothing to ask from: `status` says what is not running
    network = rt.names.network
    name = f"network {network} DNS"
    completed = rt.engine.exec_in_container(asker.container_id,
                                            ["sh", "-c", DNS_PROBE, "sh", *running],
                                            check=False, timeout=60)
    unresolved = completed.stdout.split()
    if completed.returncode != 0 or unresolved:
        what = ", ".join(unresolved) if unresolved else (completed.stderr.strip() or "no answer")
        return Check(name, False, f"the backend's lookups of {what} get no answer",
                     f"`tr4ctl down`, then `docker network rm {network}`, then `tr4ctl up` "
                     "(it makes the network anew, and new containers on it)")
    return Check(name, True, f"answers for {', '.join(running)}")


def check_database(rt: Runtime, *, engine_ok: bool) -> Check:
    """The database in use, and on PostgreSQL an image this host can start."""
    config = rt.config
    name = f"database ({config.database})"
    if config.database != POSTGRES:
        return Check(name, True, "SQLite file in the backend's data volume")
    if engine_ok and not rt.engine.image_exists(config.postgres_image):
        return Check(name, False, f"the image {config.postgres_image} is not on this host",
                     "`tr4ctl images build-local` builds one from Debian's packages "
                     "(or pull it where a registry is reachable)")
    return Check(name, True, f"PostgreSQL from {config.postgres_image}; password in .env, "
                             "mounted as a file")


def check_backend_contract(rt: Runtime, *, engine_ok: bool) -> Check | None:
    """What the backend image shows of the contract (README: Your own backend): a
    non-root user, and the optional parts it declares. None before its first build."""
    if not engine_ok:
        return None
    image = rt.stack_inputs.backend_image
    user = rt.engine.image_user(image)
    if user is None:
        return None  # not built yet: `up` builds it, and this says so then
    ok, words = contract_report(user, image_parts(rt, image))
    return Check(f"backend contract ({image})", ok, words,
                 None if ok else "add a non-root USER to the backend's Dockerfile "
                                 "(README: Your own backend)")


def check_settings(rt: Runtime) -> Check:
    try:
        config = rt.config  # loading validates .env and TR4CTL_* values
    except Tr4ctlError as exc:
        return Check("settings", False, exc.message, exc.hint)
    return Check("settings", True, f"project {config.project_name}")


def check_engine(rt: Runtime) -> Check:
    try:
        rt.engine.require_engine()
    except Tr4ctlError as exc:
        return Check("docker engine", False, exc.message, exc.hint, prerequisite=True)
    return Check("docker engine", True, "reachable")


def check_compose(rt: Runtime) -> Check:
    try:
        version = rt.engine.require_compose_v2()
    except Tr4ctlError as exc:
        return Check("compose v2", False, f"found {rt.engine.compose_version or 'none'}",
                     exc.hint, prerequisite=True)
    return Check("compose v2", True, version)


def check_port_use(rt: Runtime, *, engine_ok: bool) -> list[Check]:
    nginx = rt.engine.service_states(("nginx",))["nginx"] if engine_ok else None
    checks = []
    for port in check_ports(rt.config, nginx):
        name = f"{port.key.lower()} port {port.port}"
        if port.status == "ours":
            checks.append(Check(name, True, "served by this stack's nginx"))
        elif port.ok:
            checks.append(Check(name, True, f"free on {port.address}"))
        else:
            problem = port.problem()
            checks.append(Check(name, False, problem.message, problem.hint))
    return checks


def check_disk(rt: Runtime, *, engine_ok: bool) -> Check:
    space = free_space(rt, engine_ok=engine_ok)
    if space.low:
        return Check("disk space", False, space.describe(), LOW_SPACE_FIX)
    return Check("disk space", True, space.describe())


def check_env_file(rt: Runtime) -> Check:
    env_file = rt.paths.env_file
    if not env_file.exists():
        return Check(".env", False, f"{env_file} is missing", "run `tr4ctl init`")
    mode = stat.S_IMODE(env_file.stat().st_mode)
    if mode & 0o077:
        return Check(".env", False, f"mode {mode:04o}: readable by group or others",
                     f"chmod 600 {env_file} (or run `tr4ctl init`)")
    if not mode & 0o400:
        # Only root reads it then: tr4ctl run as its owner, and compose, would not.
        return Check(".env", False, f"mode {mode:04o}: not readable by its owner",
                     f"chmod 600 {env_file}")
    problem = secret_problem(rt.config.backend_values.get(SECRET_KEY))
    if problem:
        return Check(".env", False, problem,
                     f"set {SECRET_KEY} to the output of `openssl rand -hex 32`")
    return Check(".env", True, f"present, mode {mode:04o}, real JWT secret")
