"""config show | validate | set: the effective configuration, secrets masked."""

from __future__ import annotations

import typer

from tr4ctl.cli.common import complete_setting, env_option, examples, runtime

app = typer.Typer(help="Show or validate the rendered, effective configuration.",
                  no_args_is_help=True)


def _environment(env: str | None):
    from tr4ctl.plan.environments import parse_environment

    return parse_environment(env) if env else None


@app.command("show", epilog=examples("tr4ctl config show", "tr4ctl config show --env prod",
                                     "tr4ctl config show --json"))
def show(ctx: typer.Context,
         env: str = env_option(None, "Render for dev or prod (default: the last env used).")
         ) -> None:
    """Print settings (secrets masked) and the rendered compose and nginx files."""
    from tr4ctl.actions.config.show import show_config

    rt = runtime(ctx)
    shown = show_config(rt, _environment(env))
    out = rt.out
    if out.json_mode:
        out.emit("config show", {"env": shown.env, "settings": shown.settings,
                                 "sources": shown.sources, "compose": shown.compose,
                                 "nginx": shown.nginx})
        return
    out.table(f"settings (env={shown.env})", ["key", "value", "source"],
              [[key, "" if value is None else value, shown.sources[key]]
               for key, value in shown.settings.items()], wrap=("source",))
    if out.fits_terminal:
        # The rendered files' long lines would fold on a terminal: their paths instead.
        out.info(f"rendered: {rt.paths.compose_file}, {rt.paths.nginx_conf} (printed in "
                 "full with --wide or through a pipe)")
        return
    typer.echo(f"# --- {rt.paths.compose_file}\n{shown.compose}")
    typer.echo(f"# --- {rt.paths.nginx_conf}\n{shown.nginx}")


@app.command("validate", epilog=examples("tr4ctl config validate --env prod"))
def validate(ctx: typer.Context,
             env: str = env_option(None, "Validate for dev or prod (default: the last env "
                                         "used).")) -> None:
    """Refuse what `up --env` would refuse in the settings (the same rule) and path settings
    this host cannot serve, then render the compose file and have docker compose validate it."""
    from tr4ctl.actions.config.validate import validate_config

    rt = runtime(ctx)
    chosen = validate_config(rt, _environment(env))
    rt.out.success(f"compose configuration for env={chosen.value} is valid")
    rt.out.emit("config validate", {"env": chosen.value, "valid": True})


@app.command("set", epilog=examples("tr4ctl config set TR4CTL_HTTP_PORT=8080",
                                    "tr4ctl config set TR4CTL_DOMAIN=example.org "
                                    "TR4CTL_EMAIL=ops@example.org"))
def set_values(
    ctx: typer.Context,
    assignments: list[str] = typer.Argument(..., metavar="KEY=VALUE...",
                                            autocompletion=complete_setting,
                                            help="Settings, e.g. TR4CTL_HTTP_PORT=8080."),
    if_unset: bool = typer.Option(False, "--if-unset", help="Keep keys that already have a value."),
) -> None:
    """Write settings into the project's .env (kept 0600). Not for secrets: argv is visible."""
    from tr4ctl.actions.config.set import set_values as write_values

    rt = runtime(ctx)
    with rt.changing("config set"):
        report = write_values(rt, assignments, if_unset=if_unset)
    out = rt.out
    out.success(f"set {', '.join(report.written) or 'nothing'} in {rt.paths.env_file}")
    for key in report.overridden:
        out.warn(f"{key} is also set in the environment, which wins over .env: unset it "
                 "for the value just written to apply")
    for key, by in report.set_by_stack.items():
        out.warn(f"{key} is set for the backend's container by {by}: the value in .env is "
                 "not used by the stack")
    for key, why in report.unused_here.items():
        out.warn(f"{key} {why}")
    if report.to_recreate:
        out.info(f"running with the old values: {', '.join(report.to_recreate)}; "
                 f"`{report.apply_with}` applies the change")
    out.emit("config set", {"set": report.written, "to_recreate": report.to_recreate,
                            "apply_with": report.apply_with, "overridden": report.overridden,
                            "set_by_stack": report.set_by_stack,
                            "unused_here": report.unused_here})
