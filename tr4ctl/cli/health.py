"""health, bench, verify: is the stack healthy and as fast as it should be, how much load
it takes, and the deployment and security checklists, live.

health and verify print one document with --json: top-level "status" ("pass" or
"fail"), "checks" and "exit_code", plus the envelope's "command", "data" and "errors".
The global `tr4ctl --json` and the command's own `--json` print the same thing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from tr4ctl.cli.common import runtime
from tr4ctl.errors import BadInput
from tr4ctl.runtime import Runtime

VERDICT_STYLE = {"pass": "[green]pass[/green]", "fail": "[red]FAIL[/red]", "skip": "[dim]skip[/dim]"}


def register(app: typer.Typer) -> None:
    app.command("health")(health)
    app.command("bench")(bench)
    app.command("verify")(verify)


def _json_requested(rt: Runtime, flag: bool) -> bool:
    if flag:
        # Errors raised from here on are printed as the JSON envelope too.
        rt.out.json_mode = True
    return rt.out.json_mode


def _print_document(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _show_checks(rt: Runtime, title: str, checks, columns: list[str], row) -> None:
    out = rt.out
    out.table(title, columns, [row(check) for check in checks])
    failing = [check for check in checks if not check.ok]
    for check in failing:
        out.console.print(f"[red]✗[/red] {check.name}: {check.reason}", markup=True,
                          soft_wrap=True)
    total = len(checks)
    skipped = sum(1 for check in checks if check.verdict == "skip")
    summary = (f"{total - len(failing) - skipped}/{total} checks passed"
               + (f", {skipped} skipped" if skipped else ""))
    if failing:
        out.console.print(f"[red]fail:[/red] {summary}, {len(failing)} failed")
    else:
        out.success(summary)


def health(
    ctx: typer.Context,
    samples: int = typer.Option(50, "--samples", "-n", min=1, max=1000,
                                help="Timed requests per path, after 5 warm-up requests."),
    baseline: Path = typer.Option(None, "--baseline", dir_okay=False,
                                  help="Compare with a file saved by --save-baseline "
                                       "(default: the old deployment's figures)."),
    save_baseline: Path = typer.Option(None, "--save-baseline", dir_okay=False,
                                       help="Write the measured figures as a baseline file."),
    json_doc: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Services, readiness, Chroma and latency (nginx, backend direct, proxy overhead)
    against a baseline. Exit 0 when every check passes, 1 otherwise."""
    from tr4ctl.actions.checks.health import check_health, load_baseline
    from tr4ctl.actions.checks.health import save_baseline as write_baseline
    from tr4ctl.plan.baseline import OLD_DEPLOYMENT

    rt = runtime(ctx)
    as_json = _json_requested(rt, json_doc)
    chosen = load_baseline(baseline) if baseline else OLD_DEPLOYMENT
    report = check_health(rt, samples=samples, baseline=chosen, save_to=save_baseline)
    data = report.data()
    if save_baseline is not None:
        source = (f"saved by tr4ctl health from project {report.project} "
                  f"({samples} samples, nginx {report.nginx_mode})")
        write_baseline(report, save_baseline, source)
        data["saved_baseline"] = str(save_baseline)

    _show_checks(
        rt,
        f"project={report.project} target={report.target.describe()} "
        f"baseline={'file ' + str(baseline) if baseline else 'old deployment'}",
        report.checks, ["check", "measured", "baseline", "verdict"],
        lambda c: [c.name, c.measured, c.expected, VERDICT_STYLE[c.verdict]])
    rt.out.console.print(f"[dim]tolerance: {chosen.tolerance.describe()}; "
                              f"in-network client: {report.probe_client or '-'}; "
                              f"{report.seconds:.2f}s[/dim]", soft_wrap=True)
    if save_baseline is not None:
        rt.out.console.print(f"[green]✓[/green] baseline saved to {save_baseline}",
                                  soft_wrap=True)
    from tr4ctl.plan.verdicts import document

    doc = document("health", report.checks, data)
    if as_json:
        _print_document(doc)
    raise typer.Exit(doc["exit_code"])


def bench(
    ctx: typer.Context,
    path: str = typer.Option("/health", "--path", help="Path requested through nginx."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=64,
                                    help="Connections in parallel (at most 64)."),
    duration: float = typer.Option(None, "--duration", "-d", min=0.1, max=60,
                                   help="Seconds of load (at most 60; 5 unless --requests)."),
    requests: int = typer.Option(None, "--requests", "-r", min=1, max=100_000,
                                 help="Stop after this many requests (at most 100000)."),
    json_doc: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Bounded load through nginx on this machine's published port: requests per second,
    latency percentiles, errors by status."""
    from tr4ctl.actions.checks.bench import run_bench
    from tr4ctl.plan.bench import BenchLimits, validate_path

    rt = runtime(ctx)
    _json_requested(rt, json_doc)
    if duration is not None and requests is not None:
        raise BadInput("--duration and --requests cannot be combined",
                       "choose one: a time budget or a request count")
    if duration is None and requests is None:
        duration = 5.0
    limits = BenchLimits(path=validate_path(path), concurrency=concurrency, duration=duration,
                         requests=requests)
    result = run_bench(rt, limits)
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
    no_restart: bool = typer.Option(False, "--no-restart",
                                    help="Skip the check that restarts the backend to prove "
                                         "its data survives (reported as skipped)."),
    json_doc: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Run the deployment checklist and the security checklist live, each item with its
    verdict and evidence. Restarts the backend once (a few seconds) unless --no-restart."""
    from tr4ctl.actions.checks.verify import run_verify
    from tr4ctl.plan.verdicts import document

    rt = runtime(ctx)
    as_json = _json_requested(rt, json_doc)
    report = run_verify(rt, restart=not no_restart)
    _show_checks(
        rt, f"project={report.project} env={report.env} nginx={report.nginx_mode or '-'}",
        report.checks, ["item", "verdict", "evidence"],
        lambda c: [c.name, VERDICT_STYLE[c.verdict], c.evidence or c.reason or c.measured])
    doc = document("verify", report.checks, report.data())
    if as_json:
        _print_document(doc)
    raise typer.Exit(doc["exit_code"])
