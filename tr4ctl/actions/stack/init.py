"""`tr4ctl init`: the .env with fresh secrets, the volumes and network, rendered files,
and the files that carry secrets to the stack: the backend's env file (.env's backend
keys only) and the database password mounted as a secret, never readable by another
user of the host."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from tr4ctl.assets import env_example
from tr4ctl.config.envfile import quoted, with_jwt_secret
from tr4ctl.config.keys import PREFIX
from tr4ctl.config.load import read_env_file
from tr4ctl.config.store import save_env_values
from tr4ctl.facts import BACKEND_UID
from tr4ctl.files import PRIVATE, is_private, make_private, write_atomic, write_private
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime


@dataclass
class InitReport:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, kind: str, name: str, result: str) -> None:
        self.items.append({"kind": kind, "name": name, "result": result})

    @property
    def created_anything(self) -> bool:
        return any(item["result"] != "exists" for item in self.items)


def ensure_env_file(rt: Runtime, report: InitReport) -> None:
    env_file = rt.paths.env_file
    if env_file.exists():
        if not is_private(env_file):
            make_private(env_file)
            report.add("file", str(env_file), "permissions fixed to 0600")
        else:
            report.add("file", str(env_file), "exists")
        return
    text = with_jwt_secret(env_example().read_text(encoding="utf-8"), secrets.token_hex(32))
    write_private(env_file, text)
    report.add("file", str(env_file), "created (0600, fresh JWT_SECRET_KEY)")
    rt.reload_config()


def ensure_volumes_and_network(rt: Runtime, report: InitReport) -> None:
    engine, names = rt.engine, rt.names
    wanted = list(names.volumes.values())
    present = engine.existing_volumes(wanted)
    for name in wanted:
        if name in present:
            report.add("volume", name, "exists")
        else:
            engine.create_volume(name)
            report.add("volume", name, "created")
    if engine.network_exists(names.network):
        report.add("network", names.network, "exists")
    else:
        engine.create_network(names.network)
        report.add("network", names.network, "created")


PASSWORD_KEY = "TR4CTL_DATABASE_PASSWORD"


def ensure_database_password(rt: Runtime, report: InitReport) -> None:
    """Generated once, kept in .env (0600): PostgreSQL's role is created with it."""
    if rt.config.database_password:
        return
    save_env_values(rt.paths.env_file, {PASSWORD_KEY: secrets.token_urlsafe(24)},
                    options=rt.config_options)
    rt.reload_config()
    report.add("secret", PASSWORD_KEY, f"generated into {rt.paths.env_file}")


def write_private_files(rt: Runtime, report: InitReport) -> None:
    paths = rt.paths
    backend_keys = {key: value for key, value in read_env_file(paths.env_file).values.items()
                    if not key.startswith(PREFIX) and value is not None}
    text = "".join(f"{key}={quoted(value)}\n" for key, value in backend_keys.items())
    _write_if_changed(rt, paths.backend_env_file, text, report, PRIVATE)
    paths.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(paths.secrets_dir, 0o700)
    password = rt.config.database_password or ""
    if _write_if_changed(rt, paths.db_password_file, password, report, PRIVATE):
        _readable_by_the_backend(paths.db_password_file)


def _write_if_changed(rt: Runtime, path, text: str, report: InitReport, mode: int) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_atomic(path, text, mode)
    report.add("file", str(path), "rendered (0600)")
    return True


def _readable_by_the_backend(path) -> None:
    """The backend runs as its own uid and reads the mounted file; the database's
    entrypoint reads it as root. Owned by the backend's uid when tr4ctl runs as root;
    otherwise world-readable, behind the secrets folder only its owner can enter."""
    try:
        os.chown(path, BACKEND_UID, BACKEND_UID)
        os.chmod(path, 0o400)
    except PermissionError:
        os.chmod(path, 0o644)


def write_if_changed(path: Path, text: str, report: InitReport) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        report.add("file", str(path), "exists")
        return False
    write_atomic(path, text)
    report.add("file", str(path), "rendered")
    return True


def initialise(rt: Runtime) -> InitReport:
    """Idempotent: a second run reports everything as existing."""
    from tr4ctl.actions.nginx.apply import apply_nginx_config
    from tr4ctl.actions.stack.private_files import ensure_database_password, write_private_files
    from tr4ctl.plan.environments import nginx_mode_for
    from tr4ctl.plan.stack import render_compose, render_nginx

    rt.engine.require_engine()
    report = InitReport()
    ensure_env_file(rt, report)
    ensure_database_password(rt, report)
    write_private_files(rt, report)
    env = last_environment(rt.paths)
    config = rt.config
    # Pre-flight: render everything before creating anything in Docker.
    compose_text = render_compose(config, env, rt.paths, rt.stack_inputs)
    nginx_conf = rt.paths.nginx_conf
    nginx_text = None if nginx_conf.exists() else render_nginx(
        config, nginx_mode_for(env, certificate_present=False), rt.stack_inputs)
    ensure_volumes_and_network(rt, report)
    write_if_changed(rt.paths.compose_file, compose_text, report)
    if nginx_text is None:
        report.add("file", str(nginx_conf), "exists")
    else:
        apply_nginx_config(rt, nginx_text)
        report.add("file", str(nginx_conf), "rendered")
    return report
