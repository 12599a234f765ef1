"""doctor: pre-flight checks, each failure with its fix."""

from __future__ import annotations

import typer

from tr4ctl.cli.common import runtime


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(ctx: typer.Context) -> None:
    """Check the engine, compose v2, ports, disk space and .env; name a fix for each failure."""
    from tr4ctl.actions.stack.doctor import run_checks

    rt = runtime(ctx)
    checks = run_checks(rt)
    ok = all(check.ok for check in checks)
    rt.out.table("doctor", ["check", "ok", "detail", "fix"],
                      [[c.name, "✓" if c.ok else "✗", c.detail, c.fix or ""] for c in checks])
    rt.out.emit("doctor", {"ok": ok, "checks": [c.as_dict() for c in checks]}, ok=ok,
                     exit_code=0 if ok else 1)
    if not ok:
        raise typer.Exit(1)
    rt.out.success("ready to run the stack")
