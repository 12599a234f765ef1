"""report: the project's history as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import typer

from tr4ctl.cli.common import examples, runtime


def register(app: typer.Typer) -> None:
    app.command("report", epilog=examples(
        "tr4ctl report", "tr4ctl report --output week.html --since 7d"))(report)


def report(
    ctx: typer.Context,
    output: Path = typer.Option(Path("tr4ctl-report.html"), "--output", "-o", dir_okay=False,
                                metavar="FILE", help="Where to write the HTML file."),
    since: str = typer.Option(None, "--since", metavar="DURATION",
                              help="Only runs of the last DURATION: 30m, 12h, 7d, 2w "
                                   "(default: the whole history)."),
) -> None:
    """Write one HTML file that opens offline: the stack now, latency over time against
    the baseline with releases marked, the last bench's distribution, bench throughput,
    the checklist and its changes, certificates, backups and releases.

    Exit 3 when the project has no recorded health, bench or verify run.
    """
    from tr4ctl.actions.report import write_report
    from tr4ctl.plan.report import parse_since

    rt = runtime(ctx)
    written = write_report(rt, output, parse_since(since) if since else None)
    rt.out.success(f"report written to {written.path} ({written.size // 1024} KiB; "
                   f"charts: {', '.join(written.charts) or 'none'})")
    rt.out.emit("report", {"path": str(written.path), "runs": written.runs,
                           "charts": written.charts, "bytes": written.size})
