"""The checks behind `tr4ctl doctor`. Each one reads, none changes anything."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from tr4ctl.cli.context import AppContext
from tr4ctl.errors import Tr4ctlError
from tr4ctl.files import is_private
from tr4ctl.plan.envfile import SECRET_KEY, secret_problem
from tr4ctl.ports import port_in_use
from tr4ctl.settings import read_env_values

MIN_FREE_BYTES = 3 * 1024**3


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def run_checks(ctx: AppContext) -> list[Check]:
    checks = [check_settings(ctx)]
    if not checks[0].ok:
        return checks
    engine = check_engine(ctx)
    checks.append(engine)
    checks.append(check_compose(ctx))
    checks.extend(check_ports(ctx, engine_ok=engine.ok))
    checks.append(check_disk(ctx, engine_ok=engine.ok))
    checks.append(check_env_file(ctx))
    return checks


def check_settings(ctx: AppContext) -> Check:
    try:
        settings = ctx.settings  # loading validates .env and TR4CTL_* values
    except Tr4ctlError as exc:
        return Check("settings", False, exc.message, exc.hint)
    return Check("settings", True, f"project {settings.project_name}")


def check_engine(ctx: AppContext) -> Check:
    try:
        ctx.engine.require_engine()
    except Tr4ctlError as exc:
        return Check("docker engine", False, exc.message, exc.hint)
    return Check("docker engine", True, "reachable")


def check_compose(ctx: AppContext) -> Check:
    version = ctx.engine.compose_version()
    if not version or int(version.split(".")[0] or 0) < 2:
        return Check("compose v2", False, f"found {version or 'none'}",
                     "install the docker compose v2 plugin (scripts/provision-docker.sh)")
    return Check("compose v2", True, version)


def check_ports(ctx: AppContext, *, engine_ok: bool) -> list[Check]:
    settings = ctx.settings
    held: set[str] = set()
    if engine_ok:
        nginx = ctx.engine.service_states(("nginx",))["nginx"]
        held = {port.split("->")[0].rsplit(":", 1)[-1] for port in nginx.ports}
    checks = []
    for key, port in (("HTTP", settings.http_port), ("HTTPS", settings.https_port)):
        name = f"{key.lower()} port {port}"
        if str(port) in held:
            checks.append(Check(name, True, "served by this stack's nginx"))
        elif port_in_use(settings.bind_address, port):
            checks.append(Check(name, False, f"in use on {settings.bind_address}",
                                f"free it or set TR4CTL_{key}_PORT in .env"))
        else:
            checks.append(Check(name, True, "free"))
    return checks


def check_disk(ctx: AppContext, *, engine_ok: bool) -> Check:
    places = [ctx.project_dir]
    if engine_ok:
        root = subprocess.run(["docker", "info", "--format", "{{.DockerRootDir}}"],
                              capture_output=True, text=True).stdout.strip()
        if root and Path(root).exists():
            places.append(Path(root))
    worst = min(places, key=lambda place: shutil.disk_usage(place).free)
    free = shutil.disk_usage(worst).free
    detail = f"{free / 1024**3:.1f} GiB free at {worst}"
    if free < MIN_FREE_BYTES:
        return Check("disk space", False, detail,
                     f"free at least {MIN_FREE_BYTES // 1024**3} GiB (docker system prune)")
    return Check("disk space", True, detail)


def check_env_file(ctx: AppContext) -> Check:
    env_file = ctx.paths.env_file
    if not env_file.exists():
        return Check(".env", False, f"{env_file} is missing", "run `tr4ctl init`")
    if not is_private(env_file):
        return Check(".env", False, "readable by group or others",
                     f"chmod 600 {env_file} (or run `tr4ctl init`)")
    problem = secret_problem(read_env_values(env_file).get(SECRET_KEY))
    if problem:
        return Check(".env", False, problem,
                     f"set {SECRET_KEY} to the output of `openssl rand -hex 32`")
    return Check(".env", True, "present, 0600, real JWT secret")
