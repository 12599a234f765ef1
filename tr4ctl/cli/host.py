"""host bootstrap | check: make a machine a tr4ctl host, and check it before a
certificate. Both run here, on the workstation, and reach the host over SSH."""

from __future__ import annotations

from pathlib import Path

import typer

from tr4ctl.cli.common import examples, runtime

app = typer.Typer(help="Prepare a production host over SSH, and check it.",
                  no_args_is_help=True)

TARGET_HELP = "The host, as ssh://user@host[:port] (default: TR4CTL_HOST)."


def _identity():
    return typer.Option(None, "--identity", "-i", metavar="KEY", dir_okay=False,
                        help="Private key to log in with (default: TR4CTL_SSH_KEY, else "
                             "the agent and ssh's own).")


def _known_hosts():
    return typer.Option(None, "--known-hosts", metavar="FILE", dir_okay=False,
                        help="known_hosts file (default: TR4CTL_SSH_KNOWN_HOSTS, else "
                             "~/.ssh/known_hosts).")


@app.command("bootstrap", epilog=examples(
    "tr4ctl host bootstrap ssh://ubuntu@203.0.113.10 --accept-host-key",
    "tr4ctl host bootstrap ssh://ubuntu@host.example:2222 -i ~/.ssh/tr4ction.pem --json"))
def bootstrap(
    ctx: typer.Context,
    target: str = typer.Argument(None, metavar="ssh://USER@HOST[:PORT]", help=TARGET_HELP,
                                 show_default=False),
    accept_host_key: bool = typer.Option(
        False, "--accept-host-key",
        help="On first contact, record the host's key in known_hosts (a changed key is "
             "refused always)."),
    identity: Path = _identity(),
    known_hosts: Path = _known_hosts(),
) -> None:
    """Make a Debian 12/13 or Ubuntu 22.04/24.04 host with SSH and sudo a tr4ctl host.

    Docker engine and compose v2 plugin (kept if there), Python with venv, this tr4ctl's
    exact version in /opt/tr4ctl/venv, and the project folder (TR4CTL_HOST_DIR, default
    /srv/tr4ction: root's, 0700). Idempotent: run again, every step says already there.
    Exit 3 when the host cannot be reached or sudo needs a password.
    """
    from tr4ctl.actions.host.bootstrap import bootstrap_host
    from tr4ctl.remote.settings import read_workstation

    rt = runtime(ctx)
    settings = read_workstation(rt.project_dir)
    host = settings.target(target)
    options = settings.ssh_options(accept_host_key=accept_host_key, identity=identity,
                                   known_hosts=known_hosts)

    def show(step) -> None:
        mark = "[green]✓[/green]" if step.state == "done" else "[dim]·[/dim]"
        rt.out.say(f"{mark} {step.name}: {step.state} ({step.detail})")

    steps = bootstrap_host(host, options, settings.host_dir, rt.out, show)
    changed = [s.name for s in steps if s.state == "done" and s.name != "reach"]
    rt.out.success(f"{host} is a tr4ctl host"
                   + (f" (changed: {', '.join(changed)})" if changed else " (nothing changed)"))
    rt.out.emit("host bootstrap", {"host": str(host), "changed": changed,
                                   "steps": [s.as_dict() for s in steps]})


@app.command("check", epilog=examples("tr4ctl host check ssh://ubuntu@203.0.113.10",
                                      "TR4CTL_HOST=ssh://ubuntu@host.example tr4ctl host "
                                      "check --json"))
def check(
    ctx: typer.Context,
    target: str = typer.Argument(None, metavar="[ssh://USER@HOST[:PORT]]", help=TARGET_HELP,
                                 show_default=False),
    domain: str = typer.Option(None, "--domain", metavar="NAME",
                               help="The site's name (default: TR4CTL_DOMAIN of the host's "
                                    "project)."),
    accept_host_key: bool = typer.Option(False, "--accept-host-key",
                                         help="On first contact, record the host's key."),
    identity: Path = _identity(),
    known_hosts: Path = _known_hosts(),
) -> None:
    """Check, from here, what a certificate needs of the host.

    The domain's A/AAAA records point at the host, ports 80 and 443 reach it, its clock is
    within 5 s of this one, and disk space is left under Docker's data root and the project
    folder. Exit 1 when a check fails (a warning does not fail), 3 when the host cannot be
    reached.
    """
    from tr4ctl.actions.host.check import check_host
    from tr4ctl.plan.host_check import FAIL, OK, WARN, check_exit_code
    from tr4ctl.remote.settings import read_workstation

    rt = runtime(ctx)
    settings = read_workstation(rt.project_dir)
    host = settings.target(target)
    options = settings.ssh_options(accept_host_key=accept_host_key, identity=identity,
                                   known_hosts=known_hosts)
    checks = check_host(host, options, settings.host_dir, rt.out, domain)
    code = check_exit_code(checks)
    marks = {OK: "[green]✓[/green]", FAIL: "[red]✗[/red]"}
    rt.out.table(f"host check {host}", ["check", "ok", "detail", "fix"],
                 [[c.name, marks.get(c.verdict, "[yellow]![/yellow]"), c.detail, c.fix or ""]
                  for c in checks], wrap=("detail", "fix"))
    rt.out.emit("host check", {"host": str(host), "ok": code == 0,
                               "checks": [c.as_dict() for c in checks]},
                ok=code == 0, exit_code=code)
    if code:
        failing = [c.name for c in checks if c.verdict == FAIL]
        rt.out.failure(f"{len(failing)} check(s) failed: {', '.join(failing)}")
        raise typer.Exit(code)
    warned = [c.name for c in checks if c.verdict == WARN]
    if warned:
        rt.out.success(f"{host}: no check failed; warnings: {', '.join(warned)}")
    else:
        rt.out.success(f"{host} is ready for a certificate")
