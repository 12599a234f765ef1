"""init, up, down, status, logs: the stack's life cycle."""

from __future__ import annotations

from dataclasses import asdict

import typer

from tr4ctl.cli.common import complete_service, env_option, examples, runtime
from tr4ctl.errors import BadInput

SERVICE_COLUMNS = ["service", "state", "health", "ports", "image", "env"]


def register(app: typer.Typer) -> None:
    app.command("init", epilog=examples("tr4ctl init", "tr4ctl --project-dir /srv/tr4ction init"))(init)
    app.command("up", epilog=examples("tr4ctl up --env dev", "tr4ctl up --env prod --build"))(up)
    app.command("down", epilog=examples("tr4ctl down", "tr4ctl down --volumes --yes"))(down)
    app.command("status", epilog=examples("tr4ctl status", "tr4ctl status | grep nginx",
                                          "tr4ctl status --check || alert"))(status)
    app.command("logs", epilog=examples("tr4ctl logs backend -n 50",
                                        "tr4ctl logs -f nginx",
                                        "tr4ctl logs --json backend | jq .message"))(logs)


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
    env: str = env_option("dev", "The environment: dev (HTTP, /docs) or prod (HTTPS)."),
    build: bool = typer.Option(False, "--build", help="Rebuild the backend image first."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, metavar="SECONDS",
                                  help="How long to wait for every service to be healthy."),
    target: str = typer.Option(None, "--target", metavar="compose|swarm",
                               autocompletion=lambda: ["compose", "swarm"],
                               help="Where the stack runs (TR4CTL_TARGET, kept in .env)."),
) -> None:
    """Start the stack for an environment and wait until every service is healthy.

    An `up` that was interrupted or killed is finished by running it again. With
    `--target swarm` the same stack runs on a swarm (`docker stack deploy`).
    """
    from tr4ctl.actions.stack.up import bring_up
    from tr4ctl.plan.environments import HTTPS_PENDING_ADVICE, https_pending, parse_environment

    rt = runtime(ctx)
    chosen = parse_environment(env)
    if target is not None:
        rt.target_option = target
        rt.reload_config()  # validates the choice like any other source
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
        "shipped": report.shipped,
    })


def down(
    ctx: typer.Context,
    volumes: bool = typer.Option(False, "--volumes", help="Also delete the data volumes "
                                 "and the network (refused while other containers use it)."),
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


def status(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Exit 1 when the stack is degraded "
                               "(a service not running or not healthy, a backend that answers "
                               "/health but not /ready, an `up` that did not finish), 3 when "
                               "it is stopped."),
) -> None:
    """Services with state, health, published ports, image and env; the stack's condition.

    The condition is healthy, degraded or stopped; an `up` that was interrupted or killed
    is named, with the command that finishes it.
    """
    from tr4ctl.actions.stack.status import stack_status
    from tr4ctl.plan.environments import HTTPS_PENDING_ADVICE, https_pending

    rt = runtime(ctx)
    report = stack_status(rt)
    out = rt.out
    swarm = any(s["replicas"] for s in report.services)
    out.table(
        f"project={report.project} nginx config={report.nginx_config or '-'}"
        + (" target=swarm" if swarm else ""),
        [*SERVICE_COLUMNS, *(["replicas", "nodes"] if swarm else [])],
        [[s["service"], s["state"], s["health"] or "-", ", ".join(s["ports"]) or "-",
          s["image"] or "-", s["env"] or "-",
          *([s["replicas"] or "-", ", ".join(s["nodes"]) or "-"] if swarm else [])]
         for s in report.services],
    )
    summary = _condition_line(report)
    if report.condition == "healthy":
        out.success(summary)
    else:
        out.warn(summary)
    if report.changing_now:
        out.warn(f"{report.changing_now} is changing the stack now")
    if report.interrupted:
        out.warn(report.interrupted.describe())
    if https_pending(report.nginx_config):
        out.warn(HTTPS_PENDING_ADVICE)
    if report.maintenance:
        out.warn(f"maintenance mode on since {report.maintenance['since']}: "
                 f"{report.maintenance['message']} (`tr4ctl maintenance off` ends it)")
    for warning in report.warnings:
        out.warn(warning)
    if report.release:
        out.info(f"release {report.release['id']}: {report.release['image']}")
    if report.backup_schedule and report.backup_schedule["verdict"] in ("ok", "pending"):
        out.info(f"scheduled backup ({report.backup_schedule['schedule']} to "
                 f"{report.backup_schedule['target']}): {report.backup_schedule['words']}")
    code = report.check_exit_code if check else 0
    out.emit("status", report.data(), ok=code == 0, exit_code=code,
             errors=[] if code == 0 else [{"message": summary, "hint": None, "details": None}])
    raise typer.Exit(code)


def _condition_line(report) -> str:
    unfinished = report.unfinished_up
    if unfinished is not None:
        return (f"stack degraded: the last {unfinished.describe()}; run "
                f"`tr4ctl up --env {unfinished.env}` to finish"
                + (f" ({'; '.join(report.problems)})" if report.problems else ""))
    if report.condition == "healthy":
        return "stack healthy"
    if report.condition == "stopped":
        return "stack stopped: no service runs (`tr4ctl up` starts it)"
    return f"stack degraded: {'; '.join(report.problems)}"


def logs(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, metavar="SERVICE...", show_default=False,
                                         autocompletion=complete_service,
                                         help="chroma, backend, nginx, certbot-renew or "
                                              "certbot (default: all)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    tail: str = typer.Option(None, "--tail", "-n", metavar="N|all",
                             help="Lines from the end of each log (default: all)."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t",
                                    help="Prefix each line with its time."),
) -> None:
    """Show the services' logs (docker compose logs); with --json one JSON object per line
    (service, container, time, message)."""
    from tr4ctl.actions.stack.logs import show_logs

    rt = runtime(ctx)
    raise typer.Exit(show_logs(rt, list(services or []), follow=follow, tail=tail,
                               timestamps=timestamps, as_json=rt.out.json_mode))
