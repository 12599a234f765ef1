"""exec: a command in a running container of a service."""

from __future__ import annotations

import sys

import typer

from tr4ctl.cli.common import complete_service, examples, runtime


def register(app: typer.Typer) -> None:
    app.command(
        "exec", epilog=examples("tr4ctl exec backend -- sh",
                                "tr4ctl exec chroma -- ls /chroma/chroma"),
        # Everything after the service is the command's own, options included.
        context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    )(exec_command)


def exec_command(
    ctx: typer.Context,
    service: str = typer.Argument(..., metavar="SERVICE", autocompletion=complete_service,
                                  help="backend, nginx, chroma, certbot-renew (postgres on "
                                  "PostgreSQL)."),
    command: list[str] = typer.Argument(None, metavar="COMMAND...",
                                        help="The command and its arguments, after --."),
) -> None:
    """Run a command in a running container of the service; its output and exit code are
    the command's own.

    With a terminal on stdin and stdout it gets one (a shell works); otherwise stdin is
    passed through as data. On a swarm it runs in a task's container on this node. The
    audit log records the service and the program's name, never its arguments.
    """
    from tr4ctl.actions.service.exec import exec_in_service
    from tr4ctl.plan.service_exec import ExecRequest

    rt = runtime(ctx)
    words = list(command or [])
    if words[:1] == ["--"]:
        words = words[1:]
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    code = exec_in_service(rt, ExecRequest(service, tuple(words), tty))
    raise typer.Exit(code)
