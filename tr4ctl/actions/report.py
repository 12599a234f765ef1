"""`tr4ctl report`: one self-contained HTML file from the project's history, releases,
backups, certificates and the stack's state now. What each part shows is decided in
plan/report.py; the charts are drawn in report/charts.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tr4ctl import __version__
from tr4ctl.errors import BadInput, MissingPrerequisite, Tr4ctlError
from tr4ctl.files import write_atomic
from tr4ctl.plan.report import ReportData, report_data
from tr4ctl.project.releases import read_history
from tr4ctl.project.run_history import history_file, read_runs
from tr4ctl.runtime import Runtime

TEMPLATE = Path(__file__).resolve().parent.parent / "report" / "page.html.j2"
# The template's generator line: what makes an existing --output file a report of ours.
REPORT_MARK = b'<meta name="generator" content="tr4ctl report">'
REPORT_MARK_WITHIN = 512


@dataclass
class WrittenReport:
    path: Path
    runs: dict[str, int]
    charts: list[str]
    size: int


def write_report(rt: Runtime, output: Path, since: timedelta | None) -> WrittenReport:
    check_output(output)
    now = datetime.now(UTC)
    history = read_runs(rt.paths)
    if since is not None:
        history = history.since(now - since)
    if not history.entries:
        where = history_file(rt.paths)
        raise MissingPrerequisite(
            f"no health, bench or verify run recorded in {where}"
            + (" in that period" if since is not None else ""),
            "run `tr4ctl health` (or bench, verify): each run is recorded for the report")
    releases = read_history(rt.paths).releases
    data = report_data(history, releases)
    backups = _backups(rt)
    charts = _charts(rt, data, backups)
    page = _render(rt, data, charts, releases, backups, now, since)
    write_atomic(output, page, mode=0o644)
    return WrittenReport(output, data.runs, [name for name, svg in charts.items() if svg],
                         len(page.encode()))


def check_output(output: Path) -> None:
    """A new file in an existing folder, or a report tr4ctl wrote before (a daily report
    replaces yesterday's); never another file (`--output .env` would replace the secrets
    with HTML) and never a folder made on the way."""
    from tr4ctl.files import regular_file_problem

    if not output.parent.is_dir():
        raise BadInput(f"--output {output}: the folder {output.parent} does not exist",
                       "create it first, or name a file in an existing folder")
    try:
        problem = regular_file_problem(output)
    except FileNotFoundError:
        return
    if problem is None:
        with output.open("rb") as existing:
            if REPORT_MARK in existing.read(REPORT_MARK_WITHIN):
                return
    raise BadInput(f"--output {output} already exists and is not a report tr4ctl wrote",
                   "name a new file, or remove that one first if it is yours to replace")


def _charts(rt: Runtime, data: ReportData, backups: list[Any]) -> dict[str, str]:
    from importlib.util import find_spec

    drawn = {"latency": "", "distribution": "", "bench": "", "backups": ""}
    if find_spec("matplotlib") is None:  # the `report` extra (a host bootstrapped bare)
        rt.out.warn("the report's charts are left out: matplotlib is not installed where "
                    "tr4ctl runs (pip install 'tr4ctl[report]' into its environment)")
        return drawn
    from tr4ctl.report import charts

    if data.latency:
        drawn["latency"] = charts.latency_over_time(data.latency, data.limits, data.marks)
    if data.last_bench and data.last_bench.get("histogram_ms"):
        drawn["distribution"] = charts.distribution(
            data.last_bench["histogram_ms"],
            f"bench {data.last_bench['time']}: {data.last_bench.get('requests')} requests")
    if data.bench:
        drawn["bench"] = charts.bench_over_time(data.bench, data.marks)
    dated = [(datetime.fromisoformat(b.created_at), b.size) for b in backups if b.created_at]
    if dated:
        drawn["backups"] = charts.backups_over_time(dated)
    return drawn


def _render(rt: Runtime, data: ReportData, charts: dict[str, str], releases, backups,
            now: datetime, since: timedelta | None) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(loader=FileSystemLoader(TEMPLATE.parent),
                              autoescape=select_autoescape(["html", "j2"]))
    state, state_problem = _state(rt)
    certificates, renewal, certificates_problem = _certificates(rt)
    first = min((entry for entries in data.latency.values() for entry, _ in entries),
                default=None)
    return environment.get_template(TEMPLATE.name).render(
        project=rt.config.project_name, written=now.isoformat(timespec="seconds"),
        version=__version__, since=(now - since).isoformat(timespec="seconds") if since
        else (first.isoformat(timespec="seconds") if first else "the first run"),
        runs=data.runs, skipped=data.skipped, data=data, charts=charts,
        state=state, state_problem=state_problem,
        certificates=certificates, renewal=renewal, certificates_problem=certificates_problem,
        backups=backups, backup_dir=_backup_dir(rt),
        releases=[asdict(release) for release in releases][::-1])


def _state(rt: Runtime) -> tuple[list[dict[str, Any]], str]:
    from tr4ctl.actions.stack.status import stack_status

    try:
        return stack_status(rt).services, ""
    except Tr4ctlError as exc:
        return [], exc.message


def _certificates(rt: Runtime) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    from tr4ctl.actions.cert.status import certificate_status

    try:
        status = certificate_status(rt)
    except Tr4ctlError as exc:
        return [], {}, exc.message
    return status.certificates, status.renewal, ""


def _backup_dir(rt: Runtime) -> Path:
    from tr4ctl.actions.backup.location import backup_dir

    return backup_dir(rt, None)


def _backups(rt: Runtime) -> list[Any]:
    from tr4ctl.actions.backup.list import archives_in

    return archives_in(_backup_dir(rt))
