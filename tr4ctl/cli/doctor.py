"""doctor: pre-flight checks, each failure with its fix."""

from __future__ import annotations

import typer

from tr4ctl.cli.common import examples, runtime


def register(app: typer.Typer) -> None:
    app.command("doctor", epilog=examples("tr4ctl doctor", "tr4ctl doctor --json"))(doctor)


def doctor(ctx: typer.Context) -> None:
    """Check the engine, compose v2, ports, disk space and .env; name a fix for each failure.

    Exit 3 when the engine or the compose plugin is missing (as every command would),
    1 when another check fails.
    """
    from tr4ctl.actions.stack.doctor import exit_code, run_checks

    rt = runtime(ctx)
    checks = run_checks(rt)
    code = exit_code(checks)
    rt.out.table("doctor", ["check", "ok", "detail", "fix"],
                 [[c.name, "✓" if c.ok else "✗", c.detail, c.fix or ""] for c in checks],
                 wrap=("detail", "fix"))
    rt.out.emit("doctor", {"ok": code == 0, "checks": [c.as_dict() for c in checks]},
                ok=code == 0, exit_code=code)
    if code:
        failing = [c.name for c in checks if not c.ok]
        rt.out.failure(f"{len(failing)} check(s) failed: {', '.join(failing)}")
        raise typer.Exit(code)
    rt.out.success("ready to run the stack")
