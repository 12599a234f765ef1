"""db status | use: the backend's database, and moving the data between engines."""

from __future__ import annotations

import typer

from tr4ctl.cli.common import examples, runtime

app = typer.Typer(help="The backend's database: its figures, and a verified move between "
                       "SQLite and PostgreSQL.", no_args_is_help=True)


@app.command("status", epilog=examples("tr4ctl db status", "tr4ctl db status --json"))
def status(ctx: typer.Context) -> None:
    """Engine, server version, size, migration revision and rows per table."""
    from tr4ctl.actions.db.status import database_status

    rt = runtime(ctx)
    stats = database_status(rt)
    tables = stats.get("tables") or {}
    rt.out.table(f"database: {stats.get('engine')} {stats.get('server_version') or ''}".strip(),
                 ["table", "rows"], [[name, rows] for name, rows in sorted(tables.items())])
    rt.out.info(f"size {stats.get('size_bytes')} bytes; migration {stats.get('revision')}; "
                f"TR4CTL_DATABASE={stats['setting']}")
    rt.out.emit("db status", stats)


def _complete_database(incomplete: str) -> list[str]:
    return [name for name in ("sqlite", "postgres") if name.startswith(incomplete)]


@app.command("use", epilog=examples("tr4ctl db use postgres", "tr4ctl db use sqlite"))
def use(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="sqlite|postgres",
                                 autocompletion=_complete_database,
                                 help="The database to move the data into."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, metavar="SECONDS",
                                  help="How long the backend on the new database may take "
                                       "to be ready."),
) -> None:
    """Move the data into the other database: a backup first, every table copied and
    verified (row counts, a checksum per table), the backend switched with writes
    stopped only for the copy; the old database is kept untouched as the way back."""
    from tr4ctl.actions.db.use import move_database

    rt = runtime(ctx)
    with rt.changing("db use"):
        report = move_database(rt, target.strip().lower(), timeout=timeout)
    out = rt.out
    if not report.moved:
        out.success(f"the backend already uses {report.target}: nothing to do")
    else:
        out.table(f"{report.source} -> {report.target}", ["table", "rows", "sha256"],
                  [[name, t.get("rows"), str(t.get("sha256", ""))[:16]]
                   for name, t in sorted(report.tables.items())])
        out.success(f"the backend now uses {report.target_url}; writes were stopped for "
                    f"{report.write_pause_seconds:.2f}s")
        out.info(f"the {report.source} database is kept as it was: {report.source_url} "
                 f"(and backed up in {report.backup})")
    out.emit("db use", {"moved": report.moved, "source": report.source, "target": report.target,
                        "source_url": report.source_url, "target_url": report.target_url,
                        "write_pause_seconds": report.write_pause_seconds,
                        "tables": report.tables, "backup": report.backup,
                        "steps": report.steps})
