"""config show | validate: the effective configuration, secrets masked."""

from __future__ import annotations

import typer

from tr4ctl.cli.context import app_context

app = typer.Typer(help="Show or validate the rendered, effective configuration.",
                  no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context,
         env: str = typer.Option(None, "--env", "-e", help="Render for dev or prod "
                                 "[default: the last env used].")) -> None:
    """Print settings (secrets masked) and the rendered compose and nginx files."""
    from tr4ctl.actions.init import last_environment
    from tr4ctl.plan.environments import nginx_mode_for, parse_environment
    from tr4ctl.plan.masking import masked_settings
    from tr4ctl.plan.stack import render_compose, render_nginx
    from tr4ctl.settings import read_env_values

    app_ctx = app_context(ctx)
    chosen = parse_environment(env) if env else last_environment(app_ctx)
    settings = app_ctx.settings
    compose_text = render_compose(settings, chosen, app_ctx.paths)
    nginx_text = render_nginx(settings, nginx_mode_for(chosen, certificate_present=True)) \
        if settings.domain or chosen.value == "dev" else "(prod needs TR4CTL_DOMAIN)"
    effective = masked_settings(settings.model_dump(mode="json"),
                                read_env_values(app_ctx.paths.env_file))
    out = app_ctx.out
    if out.json_mode:
        out.emit("config show", {"env": chosen.value, "settings": effective,
                                 "compose": compose_text, "nginx": nginx_text})
        return
    out.table(f"settings (env={chosen.value})", ["key", "value"],
              [[key, value] for key, value in effective.items()])
    typer.echo(f"# --- {app_ctx.paths.compose_file}\n{compose_text}")
    typer.echo(f"# --- {app_ctx.paths.nginx_conf}\n{nginx_text}")


@app.command("validate")
def validate(ctx: typer.Context,
             env: str = typer.Option(None, "--env", "-e", help="dev or prod.")) -> None:
    """Render the compose file and have docker compose validate it."""
    from tr4ctl.actions.init import last_environment
    from tr4ctl.files import write_atomic
    from tr4ctl.plan.environments import parse_environment
    from tr4ctl.plan.stack import render_compose

    app_ctx = app_context(ctx)
    chosen = parse_environment(env) if env else last_environment(app_ctx)
    text = render_compose(app_ctx.settings, chosen, app_ctx.paths)
    app_ctx.engine.require_engine()
    candidate = app_ctx.paths.rendered_dir / "docker-compose.validate.yml"
    write_atomic(candidate, text)
    try:
        app_ctx.engine.validate_compose([candidate])
    finally:
        candidate.unlink(missing_ok=True)
    app_ctx.out.success(f"compose configuration for env={chosen.value} is valid")
    app_ctx.out.emit("config validate", {"env": chosen.value, "valid": True})


@app.command("set")
def set_values(
    ctx: typer.Context,
    assignments: list[str] = typer.Argument(..., help="KEY=VALUE pairs, e.g. TR4CTL_HTTP_PORT=8080."),
    if_unset: bool = typer.Option(False, "--if-unset", help="Keep keys that already have a value."),
) -> None:
    """Write settings into the project's .env (kept 0600). Not for secrets: argv is visible."""
    from tr4ctl.actions.init import InitReport, ensure_env_file
    from tr4ctl.errors import BadInput
    from tr4ctl.files import write_private
    from tr4ctl.plan.envfile import with_values
    from tr4ctl.plan.masking import is_secret_key
    from tr4ctl.settings import load_settings, read_env_values

    app_ctx = app_context(ctx)
    updates: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput(f"{item!r} is not KEY=VALUE", "e.g. tr4ctl config set TR4CTL_HTTP_PORT=8080")
        if is_secret_key(key):
            raise BadInput(f"{key} looks like a secret and argv is visible to every process",
                           f"edit {app_ctx.paths.env_file} instead")
        updates[key] = value
    ensure_env_file(app_ctx, InitReport())
    current = read_env_values(app_ctx.paths.env_file)
    if if_unset:
        updates = {k: v for k, v in updates.items() if not current.get(k)}
    env_file = app_ctx.paths.env_file
    new_text = with_values(env_file.read_text(encoding="utf-8"), updates)
    # Validate the result before it replaces the file: a bad value changes nothing.
    candidate = env_file.with_name(".env.candidate")
    write_private(candidate, new_text)
    try:
        load_settings(candidate, project_name=app_ctx.project_name_option)
    finally:
        candidate.unlink(missing_ok=True)
    write_private(env_file, new_text)
    app_ctx.reload_settings()
    app_ctx.out.success(f"set {', '.join(updates) or 'nothing'} in {env_file}")
    app_ctx.out.emit("config set", {"set": sorted(updates)})
