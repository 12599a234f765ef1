"""nginx use | status: which nginx config serves, switched without dropping connections."""

from __future__ import annotations

import typer

from tr4ctl.cli.common import NGINX_MODES, complete_nginx_mode, examples, runtime
from tr4ctl.errors import BadInput

app = typer.Typer(help="Switch and inspect the nginx config (dev, prod).", no_args_is_help=True)


@app.command("use", epilog=examples("tr4ctl nginx use prod", "tr4ctl nginx use dev"))
def use(
    ctx: typer.Context,
    mode: str = typer.Argument(..., metavar="dev|prod|prod-http",
                               autocompletion=complete_nginx_mode,
                               help="dev (HTTP, /docs), prod (HTTPS, hardened) or prod-http "
                               "(before the certificate: only /health and the ACME challenge, "
                               "503 elsewhere)."),
) -> None:
    """Switch nginx's config safely: render, test in the running nginx, reload.

    On any failure the previous config is restored and keeps serving.
    """
    from tr4ctl.actions.nginx.use import use_nginx_mode
    from tr4ctl.plan.environments import NginxMode

    if mode not in NGINX_MODES:
        raise BadInput(f"unknown nginx config {mode!r}", "use `tr4ctl nginx use dev` or "
                       "`tr4ctl nginx use prod`")
    rt = runtime(ctx)
    with rt.changing("nginx use"):
        result = use_nginx_mode(rt, NginxMode(mode))
    out = rt.out
    if result.result == "unchanged":
        out.success(f"nginx already serves the {mode} config: nothing to do")
    else:
        out.success(f"nginx switched from {result.previous or '-'} to {mode} "
                    "(tested, reloaded, answering)")
    out.emit("nginx use", {"mode": mode, "previous": result.previous, "result": result.result})


@app.command("status", epilog=examples("tr4ctl nginx status"))
def status(ctx: typer.Context) -> None:
    """The config nginx has on disk and the one its workers answer with."""
    from tr4ctl.actions.nginx.status import nginx_status

    rt = runtime(ctx)
    report = nginx_status(rt)
    out = rt.out
    out.table(None, ["nginx", "config file", "serving", "https for"],
              [[report.nginx_state, report.config or "-", report.serving or "-",
                ", ".join(report.tls_domains) or "-"]])
    if report.nginx_state == "running" and not report.in_sync:
        out.warn("nginx serves a different config than the file says: run `tr4ctl nginx use "
                 f"{(report.config or 'dev').split()[0]}`")
    out.emit("nginx status", {
        "config": report.config, "serving": report.serving, "nginx_state": report.nginx_state,
        "in_sync": report.in_sync, "tls_domains": report.tls_domains,
        "config_file": report.config_file,
    })
