"""`tr4ctl init`: the .env with fresh secrets, the volumes and network, rendered files,
and the files that carry secrets to the stack: the backend's env file (.env's backend
keys only) and the database password mounted as a secret, never readable by another
user of the host."""

from __future__ import annotations

import secrets
from pathlib import Path

from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.assets import env_example
from tr4ctl.config.envfile import with_jwt_secret
from tr4ctl.config.load import read_env_text
from tr4ctl.config.model import DEFAULT
from tr4ctl.config.store import save_env_values
from tr4ctl.files import is_private, make_private, write_atomic, write_private
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime

PROJECT_NAME_KEY = "TR4CTL_PROJECT_NAME"


def ensure_env_file(rt: Runtime, report: InitReport) -> None:
    env_file = rt.paths.env_file
    if env_file.exists():
        # Read first: a FIFO or a directory there is refused before its mode is touched.
        read_env_text(env_file)
        if not is_private(env_file):
            make_private(env_file)
            report.add("file", str(env_file), "permissions fixed to 0600")
        else:
            report.add("file", str(env_file), "exists")
        return
    # A name given by --project-name or TR4CTL_PROJECT_NAME is kept with the project:
    # a later command without it must not address a stack of the default name.
    chosen = rt.config.project_name if rt.config.source(PROJECT_NAME_KEY) != DEFAULT else None
    text = with_jwt_secret(env_example().read_text(encoding="utf-8"), secrets.token_hex(32))
    write_private(env_file, text)
    report.add("file", str(env_file), "created (0600, fresh JWT_SECRET_KEY)")
    if chosen:
        save_env_values(env_file, {PROJECT_NAME_KEY: chosen}, options=rt.config_options)
        report.add("setting", PROJECT_NAME_KEY, f"{chosen} (kept in .env)")
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


def write_if_changed(path: Path, text: str, report: InitReport) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        report.add("file", str(path), "exists")
        return False
    write_atomic(path, text)
    report.add("file", str(path), "rendered")
    return True


def initialise(rt: Runtime) -> InitReport:
    """Idempotent: a second run reports everything as existing."""
    from tr4ctl.actions.db.identity import require_password_unchanged
    from tr4ctl.actions.nginx.apply import apply_nginx_config
    from tr4ctl.actions.stack.private_files import ensure_database_password, write_private_files
    from tr4ctl.plan.environments import nginx_mode_for
    from tr4ctl.plan.stack import render_compose, render_nginx

    rt.engine.require_engine()
    # The secret file is what PostgreSQL's role has: a changed .env is refused, not written.
    require_password_unchanged(rt)
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
