"""`tr4ctl init`: the .env with a fresh secret, the volumes and network, rendered files."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from tr4ctl.assets import env_example
from tr4ctl.cli.context import AppContext
from tr4ctl.files import is_private, make_private, read_json, write_atomic, write_private
from tr4ctl.plan.envfile import with_jwt_secret
from tr4ctl.plan.environments import Environment


@dataclass
class InitReport:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, kind: str, name: str, result: str) -> None:
        self.items.append({"kind": kind, "name": name, "result": result})

    @property
    def created_anything(self) -> bool:
        return any(item["result"] != "exists" for item in self.items)


def ensure_env_file(ctx: AppContext, report: InitReport) -> None:
    env_file = ctx.paths.env_file
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
    ctx.reload_settings()


def ensure_volumes_and_network(ctx: AppContext, report: InitReport) -> None:
    engine, names = ctx.engine, ctx.names
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


def last_environment(ctx: AppContext) -> Environment:
    recorded = read_json(ctx.paths.state_file).get("env")
    return Environment(recorded) if recorded in {e.value for e in Environment} else Environment.DEV


def remember_environment(ctx: AppContext, env: Environment) -> None:
    update_state(ctx, env=env.value)


def update_state(ctx: AppContext, **values: str) -> None:
    from tr4ctl.files import write_json

    state = read_json(ctx.paths.state_file)
    if any(state.get(key) != value for key, value in values.items()):
        write_json(ctx.paths.state_file, {**state, **values})


def write_if_changed(path, text: str, report: InitReport) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        report.add("file", str(path), "exists")
        return False
    write_atomic(path, text)
    report.add("file", str(path), "rendered")
    return True


def initialise(ctx: AppContext) -> InitReport:
    """Idempotent: a second run reports everything as existing."""
    from tr4ctl.actions.nginx_config import apply_nginx_config
    from tr4ctl.plan.environments import nginx_mode_for
    from tr4ctl.plan.stack import render_compose, render_nginx

    report = InitReport()
    ensure_env_file(ctx, report)
    env = last_environment(ctx)
    settings = ctx.settings
    # Pre-flight: render everything before creating anything in Docker.
    compose_text = render_compose(settings, env, ctx.paths)
    nginx_conf = ctx.paths.nginx_conf
    nginx_text = None if nginx_conf.exists() else render_nginx(
        settings, nginx_mode_for(env, certificate_present=False))
    ensure_volumes_and_network(ctx, report)
    write_if_changed(ctx.paths.compose_file, compose_text, report)
    if nginx_text is None:
        report.add("file", str(nginx_conf), "exists")
    else:
        apply_nginx_config(ctx, nginx_text)
        report.add("file", str(nginx_conf), "rendered")
    return report
