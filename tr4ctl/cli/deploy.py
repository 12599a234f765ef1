"""deploy, rollback, releases: backend releases with no failed request."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from tr4ctl.cli.common import examples, maintenance_option, runtime

if TYPE_CHECKING:
    from tr4ctl.actions.deploy.ship import ShipReport
    from tr4ctl.runtime import Runtime


def register(app: typer.Typer) -> None:
    app.command("deploy", epilog=examples(
        "tr4ctl deploy", "tr4ctl deploy --build", "tr4ctl deploy --ref v1.4.2", "tr4ctl deploy --image tr4ction/backend:2.1"))(
        deploy)
    app.command("rollback", epilog=examples("tr4ctl rollback", "tr4ctl rollback r3",
                                            "tr4ctl rollback r3 --restore-data"))(rollback)
    app.command("releases", epilog=examples("tr4ctl releases", "tr4ctl releases --json"))(
        releases)


def deploy(
    ctx: typer.Context,
    image: str = typer.Option(None, "--image", metavar="REF",
                              help="Deploy this local image (default: the shipped backend code)."),
    build: bool = typer.Option(False, "--build", help="Rebuild the backend image first."),
    ref: str = typer.Option(None, "--ref", metavar="REF",
                            help="Build this tag, branch or commit of the git repository "
                                 "TR4CTL_BACKEND_SOURCE names (default: HEAD)."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, metavar="SECONDS",
                                  help="How long the new release may take to be ready."),
    maintenance: bool = maintenance_option("deploy"),
) -> None:
    """Ship a new backend release beside the running one, switch nginx to it, retire
    the old one: no failed request. On any failure the old release keeps serving.
    """
    from tr4ctl.actions.deploy.deploy import deploy as ship_new
    from tr4ctl.actions.maintenance.switch import maintenance_during

    rt = runtime(ctx)
    with rt.changing("deploy"), maintenance_during(rt, maintenance, "deploy"):
        report = ship_new(rt, image=image, build=build, timeout=timeout, ref=ref)
    _done(rt, "deploy", report)


def rollback(
    ctx: typer.Context,
    release: str = typer.Argument(None, metavar="[RELEASE]",
                                  help="A release id from `tr4ctl releases` (default: the "
                                       "previous one)."),
    restore_data: bool = typer.Option(False, "--restore-data",
                                      help="Also put back the database as it was before the "
                                           "release that moved it (stops the backend briefly)."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, metavar="SECONDS",
                                  help="How long the release may take to be ready."),
) -> None:
    """Go back to an earlier successful release by the same zero-downtime path."""
    from tr4ctl.actions.deploy.rollback import plan_rollback, roll_back

    rt = runtime(ctx)
    plan = plan_rollback(rt, release, restore_data=restore_data)
    with rt.changing("rollback"):
        report = roll_back(rt, plan, timeout=timeout)
    _done(rt, "rollback", report)


def releases(ctx: typer.Context) -> None:
    """Every release: id, time, image, code, migrations, result, who, and the current one."""
    from tr4ctl.actions.deploy.releases import list_releases

    rt = runtime(ctx)
    rows = list_releases(rt)
    rt.out.table("releases", ["id", "", "kind", "time", "image", "code", "db", "result", "by"],
                 [[r["id"], "*" if r["current"] else "", r["kind"], r["time"], r["image"],
                   (r["fingerprint"] or "-")[:12], r["db_revision"] or "-",
                   r["result"] + (f" at {r['failed_step']}" if r["failed_step"] else ""),
                   r["by"]] for r in rows])
    rt.out.emit("releases", {"releases": rows,
                             "current": next((r["id"] for r in rows if r["current"]), None)})


def _done(rt: Runtime, command: str, report: ShipReport) -> None:
    from dataclasses import asdict

    release = report.release
    took = " ".join(f"{step} {seconds:.1f}s" for step, seconds in report.steps.items())
    rt.out.success(f"release {release.id} serves {release.image} "
                   f"({release.seconds:.1f}s: {took})")
    if report.previous:
        rt.out.info(f"the previous release was {report.previous.id}: "
                    f"`tr4ctl rollback {report.previous.id}` goes back")
    rt.out.emit(command, {"release": asdict(release), "steps": report.steps,
                          "previous": report.previous.id if report.previous else None,
                          "shipped": report.shipped})
