"""maintenance on | off: a 503 page from nginx while the operators work."""

from __future__ import annotations

import typer

from tr4ctl.cli.common import examples, runtime

app = typer.Typer(help="Maintenance mode: nginx answers 503 with Retry-After on every path "
                  "but /health and the ACME challenge.", no_args_is_help=True)


@app.command("on", epilog=examples("tr4ctl maintenance on",
                                   "tr4ctl maintenance on --message \"Upgrading the database\""))
def on(
    ctx: typer.Context,
    message: str = typer.Option(None, "--message", "-m", metavar="SENTENCE", show_default=False,
                                help="Shown on the page and in the JSON answer (at most 300 "
                                "characters)."),
) -> None:
    """Turn maintenance mode on: nginx's config tested and reloaded, no request dropped.

    Browsers (Accept: text/html) get an HTML page, API clients JSON; both with
    Retry-After. It stays on across `tr4ctl up` until `tr4ctl maintenance off`.
    """
    _switch(ctx, True, message)


@app.command("off", epilog=examples("tr4ctl maintenance off"))
def off(ctx: typer.Context) -> None:
    """Turn maintenance mode off: the application answers again."""
    _switch(ctx, False, None)


def _switch(ctx: typer.Context, on: bool, message: str | None) -> None:
    from tr4ctl.actions.maintenance.switch import switch_maintenance

    rt = runtime(ctx)
    command = f"maintenance {'on' if on else 'off'}"
    with rt.changing(command):
        report = switch_maintenance(rt, on, message)
    state = "on" if on else "off"
    if report.nginx == "written":
        rt.out.success(f"maintenance mode {state}: recorded; nginx is not running, the next "
                       "`tr4ctl up` serves it")
    else:
        rt.out.success(f"maintenance mode {state} (nginx tested, reloaded, answering)")
    rt.out.emit(command, {"on": report.on, "message": report.message, "since": report.since,
                          "nginx": report.nginx})
