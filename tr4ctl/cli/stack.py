"""init, up, down, status, logs: the stack's life cycle."""

from __future__ import annotations

from dataclasses import asdict

import typer

from tr4ctl.cli.context import app_context
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
    app_ctx = app_context(ctx)
    app_ctx.engine.require_engine()
    from tr4ctl.actions.init import initialise

    with app_ctx.changing("init"):
        report = initialise(app_ctx)
    out = app_ctx.out
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
    from tr4ctl.actions.up import bring_up
    from tr4ctl.plan.environments import parse_environment

    app_ctx = app_context(ctx)
    chosen = parse_environment(env)
    with app_ctx.changing("up"):
        report = bring_up(app_ctx, chosen, build=build, timeout=timeout)
    rows = [[s.service, s.state, s.health or "-",
             f"{s.seconds_to_healthy:.1f}s" if s.seconds_to_healthy is not None else "-"]
            for s in report.services]
    app_ctx.out.table(f"env={report.env} nginx={report.nginx_mode}",
                      ["service", "state", "health", "healthy after"], rows)
    app_ctx.out.success(f"stack healthy in {report.total_seconds:.1f}s")
    app_ctx.out.emit("up", {
        "env": report.env, "nginx_mode": report.nginx_mode,
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
    app_ctx = app_context(ctx)
    if volumes and not yes:
        raise BadInput("--volumes deletes all data (database, Chroma, certificates)",
                       "add --yes to confirm, or drop --volumes to keep the data")
    engine = app_ctx.engine
    engine.require_engine()
    removed: list[str] = []
    with app_ctx.changing("down"):
        if app_ctx.paths.compose_file.exists():
            engine.compose_down(timeout=10)
        if volumes:
            names = app_ctx.names
            for name in sorted(engine.existing_volumes(list(names.volumes.values()))):
                engine.remove_volume(name)
                removed.append(name)
            if engine.network_exists(names.network):
                engine.remove_network(names.network)
                removed.append(names.network)
    app_ctx.out.success("stack stopped" + (f"; removed {', '.join(removed)}" if removed
                                            else "; data volumes kept"))
    app_ctx.out.emit("down", {"removed": removed})


def status(ctx: typer.Context) -> None:
    """Services with state, health, published ports, image and active env."""
    from tr4ctl.actions.nginx_config import active_nginx_mode
    from tr4ctl.plan.layout import ALL_SERVICES

    app_ctx = app_context(ctx)
    app_ctx.engine.require_engine()
    states = app_ctx.engine.service_states(ALL_SERVICES)
    services = [asdict(state) for name, state in states.items()
                if not (name == "certbot" and state.state == "absent")]
    nginx_mode = active_nginx_mode(app_ctx)
    app_ctx.out.table(
        f"project={app_ctx.settings.project_name} nginx config={nginx_mode or '-'}",
        SERVICE_COLUMNS,
        [[s["service"], s["state"], s["health"] or "-", ", ".join(s["ports"]) or "-",
          s["image"] or "-", s["env"] or "-"] for s in services],
    )
    app_ctx.out.emit("status", {"project": app_ctx.settings.project_name,
                                "nginx_config": nginx_mode, "services": services})


def logs(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services (default: all)."),
    follow: bool = typer.Option(False, "--follow", "-f"),
    tail: str = typer.Option(None, "--tail", "-n", help="Lines from the end of each log."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t"),
) -> None:
    """Show service logs (docker compose logs)."""
    from tr4ctl.plan.layout import ALL_SERVICES

    app_ctx = app_context(ctx)
    unknown = [s for s in services or [] if s not in ALL_SERVICES]
    if unknown:
        raise BadInput(f"unknown service {unknown[0]!r}", f"use one of {', '.join(ALL_SERVICES)}")
    if tail is not None and not (tail == "all" or tail.isdigit()):
        raise BadInput(f"--tail {tail!r} is not a number", "use --tail 100 or --tail all")
    if not app_ctx.paths.compose_file.exists():
        raise BadInput("this project has no stack yet", "run `tr4ctl up` first")
    app_ctx.engine.require_engine()
    raise typer.Exit(app_ctx.engine.logs(list(services or []), follow=follow, tail=tail,
                                         timestamps=timestamps))
