"""init, up, down, status, logs: the stack's life cycle."""

from __future__ import annotations

from dataclasses import asdict

import typer

from tr4ctl.cli.common import runtime
from tr4ctl.errors import BadInput

SERVICE_COLUMNS = ["service", "state", "health", "ports", "image", "env"]


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("logs")(logs)


def init(ctx: typer.Context) -> None:
    """Create .env (0600, fresh secret), the volumes and network, and render the files."""
    from tr4ctl.actions.stack.init import initialise

    rt = runtime(ctx)
    rt.engine.require_engine()
    with rt.changing("init"):
        report = initialise(rt)
    out = rt.out
    out.table(None, ["kind", "name", "result"],
              [[i["kind"], i["name"], i["result"]] for i in report.items])
    out.success("initialised" if report.created_anything else "already initialised: nothing to do")
    out.emit("init", {"items": report.items, "changed": report.created_anything})


def up(
    ctx: typer.Context,
    env: str = typer.Option("dev", "--env", "-e", help="dev or prod."),
    build: bool = typer.Option(False, "--build", help="Rebuild the backend image first."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, help="Seconds to wait for healthy."),
) -> None:
    """Start the stack for an environment and wait until every service is healthy."""
    from tr4ctl.actions.stack.up import bring_up
    from tr4ctl.plan.environments import HTTPS_PENDING_ADVICE, https_pending, parse_environment

    rt = runtime(ctx)
    chosen = parse_environment(env)
    with rt.changing("up"):
        report = bring_up(rt, chosen, build=build, timeout=timeout)
    rows = [[s.service, s.state, s.health or "-",
             f"{s.seconds_to_healthy:.1f}s" if s.seconds_to_healthy is not None else "-"]
            for s in report.services]
    rt.out.table(f"env={report.env} nginx={report.nginx_mode}",
                 ["service", "state", "health", "healthy after"], rows)
    rt.out.success(f"stack healthy in {report.total_seconds:.1f}s")
    pending = https_pending(report.nginx_mode)
    if pending:
        rt.out.warn(HTTPS_PENDING_ADVICE)
    rt.out.emit("up", {
        "env": report.env, "nginx_mode": report.nginx_mode, "https_pending": pending,
        "total_seconds": report.total_seconds,
        "services": [asdict(s) for s in report.services],
        "init": report.init.items,
    })


def down(
    ctx: typer.Context,
    volumes: bool = typer.Option(False, "--volumes", help="Also delete the data volumes."),
    yes: bool = typer.Option(False, "--yes", help="Confirm --volumes."),
) -> None:
    """Stop and remove the containers. Data volumes are kept unless --volumes --yes."""
    from tr4ctl.actions.stack.down import take_down

    rt = runtime(ctx)
    if volumes and not yes:
        raise BadInput("--volumes deletes all data (database, Chroma, certificates)",
                       "add --yes to confirm, or drop --volumes to keep the data")
    rt.engine.require_engine()
    with rt.changing("down"):
        removed = take_down(rt, remove_volumes=volumes)
    project = rt.config.project_name
    rt.out.success(f"stack {project} stopped" + (
        f"; removed all data of project {project}: {', '.join(removed)}" if removed
        else "; data volumes kept"))
    rt.out.emit("down", {"removed": removed})


def status(ctx: typer.Context) -> None:
    """Services with state, health, published ports, image and active env."""
    from tr4ctl.actions.stack.status import stack_status
    from tr4ctl.plan.environments import HTTPS_PENDING_ADVICE, https_pending

    rt = runtime(ctx)
    report = stack_status(rt)
    rt.out.table(
        f"project={report.project} nginx config={report.nginx_config or '-'}",
        SERVICE_COLUMNS,
        [[s["service"], s["state"], s["health"] or "-", ", ".join(s["ports"]) or "-",
          s["image"] or "-", s["env"] or "-"] for s in report.services],
    )
    pending = https_pending(report.nginx_config)
    if pending:
        rt.out.warn(HTTPS_PENDING_ADVICE)
    rt.out.emit("status", {"project": report.project, "nginx_config": report.nginx_config,
                           "https_pending": pending, "services": report.services})


def logs(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services (default: all)."),
    follow: bool = typer.Option(False, "--follow", "-f"),
    tail: str = typer.Option(None, "--tail", "-n", help="Lines from the end of each log."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t"),
) -> None:
    """Show service logs (docker compose logs)."""
    from tr4ctl.actions.stack.logs import show_logs

    raise typer.Exit(show_logs(runtime(ctx), list(services or []), follow=follow, tail=tail,
                               timestamps=timestamps))
