"""health, bench, verify: is the stack healthy and as fast as it should be, how much load
it takes, and the deployment and security checklists, live.

health and verify print one document with --json: top-level "status" ("pass" or
"fail"), "checks" and "exit_code", plus the envelope's "command", "data" and "errors".
The global `tr4ctl --json` and the command's own `--json` print the same thing.

verify only reads unless --restart is given: a check run by a monitor must not restart
the backend it checks.
"""

from __future__ import annotations

from pathlib import Path

import typer

from tr4ctl.cli.common import examples, runtime
from tr4ctl.errors import BadInput
from tr4ctl.runtime import Runtime

VERDICT_STYLE = {"pass": "[green]pass[/green]", "fail": "[red]FAIL[/red]", "skip": "[dim]skip[/dim]"}


def register(app: typer.Typer) -> None:
    app.command("health", epilog=examples(
        "tr4ctl health", "tr4ctl health --json --samples 200",
        "tr4ctl health --save-baseline baseline.json", "tr4ctl health --watch --interval 10",
        "tr4ctl health --baseline baseline.json"))(health)
    app.command("bench", epilog=examples(
        "tr4ctl bench", "tr4ctl bench --concurrency 8 --duration 10",
        "tr4ctl bench --requests 1000 --path /health"))(bench)
    app.command("verify", epilog=examples(
        "tr4ctl verify", "tr4ctl verify --json", "tr4ctl verify --restart"))(verify)


def _show_checks(rt: Runtime, title: str, checks, columns: list[str], row, *,
                 wrap: tuple[str, ...]) -> None:
    out = rt.out
    out.table(title, columns, [row(check) for check in checks], wrap=wrap)
    failing = [check for check in checks if not check.ok]
    for check in failing:
        out.failure(f"{check.name}: {check.reason}")
    total = len(checks)
    skipped = sum(1 for check in checks if check.verdict == "skip")
    summary = (f"{total - len(failing) - skipped}/{total} checks passed"
               + (f", {skipped} skipped" if skipped else ""))
    if failing:
        out.say(f"[red]fail:[/red] {summary}, {len(failing)} failed")
    else:
        out.success(summary)


def health(
    ctx: typer.Context,
    samples: int = typer.Option(50, "--samples", "-n", min=1, max=1000, metavar="N",
                                help="Timed requests per path, after 5 warm-up requests."),
    baseline: Path = typer.Option(None, "--baseline", dir_okay=False, metavar="FILE",
                                  help="Compare with a file saved by --save-baseline "
                                       "(default: the old deployment's figures)."),
    save_baseline: Path = typer.Option(None, "--save-baseline", dir_okay=False,
                                       metavar="FILE",
                                       help="Write the measured figures as a baseline file."),
    watch: bool = typer.Option(False, "--watch", "-w",
                               help="Check again every --interval seconds, the table redrawn "
                                    "in place, until Ctrl-C (exit 0)."),
    interval: float = typer.Option(5.0, "--interval", min=0.5, max=3600, metavar="SECONDS",
                                   help="Seconds between rounds of --watch."),
) -> None:
    """Services, readiness, Chroma and latency against a baseline; exit 0 when all pass.

    Latency: nginx from the host, the backend directly and through nginx from inside the
    stack's network, and the proxy overhead from back-to-back pairs of the two (never
    negative). Exit 1 when a check fails, 3 when the stack is not running.
    """
    from tr4ctl.actions.checks.health import check_health, load_baseline
    from tr4ctl.actions.checks.health import save_baseline as write_baseline
    from tr4ctl.plan.baseline import OLD_DEPLOYMENT

    rt = runtime(ctx)
    chosen = load_baseline(baseline) if baseline else OLD_DEPLOYMENT
    if watch:
        _watch(rt, samples, chosen, baseline, interval, save_baseline)
        return
    report = check_health(rt, samples=samples, baseline=chosen, save_to=save_baseline)
    data = report.data()
    if save_baseline is not None:
        source = (f"saved by tr4ctl health from project {report.project} "
                  f"({samples} samples, nginx {report.nginx_mode})")
        write_baseline(report, save_baseline, source)
        data["saved_baseline"] = str(save_baseline)

    _show_checks(rt, _health_title(report, baseline), report.checks, HEALTH_COLUMNS,
                 _health_row, wrap=HEALTH_PROSE)
    rt.out.say(f"[dim]tolerance: {chosen.tolerance.describe()}; "
               f"in-network client: {report.probe_client or '-'}; "
               f"{report.seconds:.2f}s[/dim]")
    if save_baseline is not None:
        rt.out.success(f"baseline saved to {save_baseline}")
    _finish_document(rt, "health", report.checks, data, chosen)


HEALTH_COLUMNS = ["check", "measured", "baseline", "verdict"]
HEALTH_PROSE = ("measured", "baseline")


def _health_row(check) -> list[str]:
    return [check.name, check.measured, check.expected, VERDICT_STYLE[check.verdict]]


def _health_title(report, baseline: Path | None) -> str:
    return (f"project={report.project} target={report.target.describe()} "
            f"baseline={'file ' + str(baseline) if baseline else 'old deployment'}")


def _watch(rt: Runtime, samples: int, chosen, baseline: Path | None, interval: float,
           save_baseline: Path | None) -> None:
    import time

    from tr4ctl.actions.checks.watch import watch_health

    if rt.out.json_mode or save_baseline is not None:
        raise BadInput("--watch draws a table for a person",
                       "drop --json and --save-baseline, or drop --watch")

    def drawn(report, round_number: int):
        failing = sum(1 for check in report.checks if not check.ok)
        verdict = f"{failing} failing" if failing else "all pass"
        title = (f"{_health_title(report, baseline)}  round {round_number} at "
                 f"{time.strftime('%H:%M:%S')}: {verdict} (Ctrl-C ends)")
        return rt.out.drawn_table(title, HEALTH_COLUMNS,
                                  [_health_row(check) for check in report.checks],
                                  wrap=HEALTH_PROSE)

    rounds = watch_health(rt, samples=samples, baseline=chosen, interval=interval,
                          drawn=drawn)
    rt.out.success(f"{rounds} round(s) of health checks")


def bench(
    ctx: typer.Context,
    path: str = typer.Option("/health", "--path", metavar="PATH",
                             help="Path requested through nginx."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=64, metavar="N",
                                    help="Connections in parallel (at most 64)."),
    duration: float = typer.Option(None, "--duration", "-d", min=0.1, max=60,
                                   metavar="SECONDS",
                                   help="Seconds of load (at most 60; 5 unless --requests)."),
    requests: int = typer.Option(None, "--requests", "-r", min=1, max=100_000, metavar="N",
                                 help="Stop after this many requests (at most 100000)."),
) -> None:
    """Bounded load through nginx on this machine's published port.

    Reports requests per second, latency percentiles and errors by status. Exit 1 when a
    request fails, 3 when nginx is not running.
    """
    from tr4ctl.actions.checks.bench import run_bench
    from tr4ctl.actions.history import record_bench
    from tr4ctl.plan.bench import BenchLimits, validate_path

    rt = runtime(ctx)
    if duration is not None and requests is not None:
        raise BadInput("--duration and --requests cannot be combined",
                       "choose one: a time budget or a request count")
    if duration is None and requests is None:
        duration = 5.0
    limits = BenchLimits(path=validate_path(path), concurrency=concurrency, duration=duration,
                         requests=requests)
    result = run_bench(rt, limits)
    record_bench(rt, result)
    out = rt.out
    summary = result.latency
    out.table(f"bench {result.url} concurrency={limits.concurrency}",
              ["requests", "seconds", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"],
              [[result.completed, f"{result.seconds:.2f}", f"{result.rps:.1f}",
                *(f"{summary.figure(p):.2f}" if summary else "-"
                  for p in ("p50", "p95", "p99", "max")),
                sum(result.errors.values())]])
    statuses = ", ".join(f"{code}: {count}" for code, count in sorted(result.statuses.items()))
    out.info(f"answers by status: {statuses or 'none'}; stopped by {result.stopped_by}")
    ok = result.failed == 0 and result.completed > 0
    if not ok:
        listed = ", ".join(f"{count}x {what}" for what, count in sorted(result.errors.items()))
        out.error(f"{result.failed} of {result.completed} requests failed: {listed or 'none answered'}")
    out.emit("bench", result.as_dict(), ok=ok, exit_code=0 if ok else 1,
             errors=[] if ok else [{"message": f"{what}: {count} requests", "hint": None,
                                    "details": None} for what, count in result.errors.items()])
    raise typer.Exit(0 if ok else 1)


def verify(
    ctx: typer.Context,
    restart: bool = typer.Option(False, "--restart",
                                 help="Also restart the backend once (a few seconds without "
                                      "it) to prove its data survives. Changes the stack."),
    no_restart: bool = typer.Option(False, "--no-restart", hidden=True,
                                    help="The default now; kept for existing scripts."),
) -> None:
    """Run the deployment and security checklists live, each item with its evidence.

    Read-only: requests, `docker exec` and `docker top`, nothing restarted. The one
    check that restarts the backend runs only with --restart (skipped otherwise). Exit 1
    when an item fails, 3 when the stack is not running.
    """
    from tr4ctl.actions.checks.verify import run_verify

    rt = runtime(ctx)
    if restart and no_restart:
        raise BadInput("--restart and --no-restart contradict each other", "choose one")
    report = run_verify(rt, restart=restart)
    _show_checks(
        rt, f"project={report.project} env={report.env} nginx={report.nginx_mode or '-'}",
        report.checks, ["item", "verdict", "evidence"],
        lambda c: [c.name, VERDICT_STYLE[c.verdict], c.evidence or c.reason or c.measured],
        wrap=("evidence",))
    _finish_document(rt, "verify", report.checks, report.data())


def _finish_document(rt: Runtime, command: str, checks, data: dict, baseline=None) -> None:
    """health's and verify's --json document (the envelope plus status and checks), and
    the exit code it carries; the run goes into the project's history."""
    from tr4ctl.actions.history import record_health, record_verify
    from tr4ctl.plan.verdicts import document

    doc = document(command, checks, data)
    if command == "health":
        record_health(rt, doc, baseline)
    else:
        record_verify(rt, doc)
    if rt.out.json_mode:
        rt.out.write_json(doc, indent=2)
    raise typer.Exit(doc["exit_code"])
