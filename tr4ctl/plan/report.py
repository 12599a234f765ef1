"""What `tr4ctl report` shows, decided from what was read: the run history, the
releases, the backups, the stack's state now. Pure: no file, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tr4ctl.errors import BadInput
from tr4ctl.plan.history import RunHistory

SINCE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class ReportData:
    latency: dict[str, list[tuple[datetime, dict[str, float]]]] = field(default_factory=dict)
    limits: dict[str, dict[str, float]] = field(default_factory=dict)
    baseline: str = ""
    marks: list[tuple[datetime, str]] = field(default_factory=list)
    bench: list[tuple[datetime, float, int]] = field(default_factory=list)
    last_bench: dict[str, Any] | None = None
    last_verify: dict[str, Any] | None = None
    verify_changes: list[tuple[str, str, str]] = field(default_factory=list)  # item, was, now
    runs: dict[str, int] = field(default_factory=dict)
    skipped: int = 0


def parse_since(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w`."""
    value, unit = text[:-1], text[-1:].lower()
    if unit not in SINCE_UNITS or not value.isdigit() or int(value) <= 0:
        raise BadInput(f"--since {text!r} is not a duration",
                       "give a number and a unit: 30m, 12h, 7d or 2w")
    return timedelta(seconds=int(value) * SINCE_UNITS[unit])


def report_data(history: RunHistory, releases: list[Any]) -> ReportData:
    data = ReportData(skipped=history.skipped)
    for kind in ("health", "bench", "verify"):
        data.runs[kind] = len(history.of(kind))
    for entry in history.of("health"):
        moment = datetime.fromisoformat(entry["time"])
        for metric, figures in (entry.get("latency_ms") or {}).items():
            data.latency.setdefault(metric, []).append((moment, figures))
        data.limits = entry.get("limits_ms") or data.limits
        data.baseline = entry.get("baseline") or data.baseline
    for entry in history.of("bench"):
        data.bench.append((datetime.fromisoformat(entry["time"]),
                           float(entry.get("requests_per_second") or 0),
                           int(entry.get("failed") or 0)))
        data.last_bench = entry
    verifies = history.of("verify")
    if verifies:
        data.last_verify = verifies[-1]
        if len(verifies) > 1:
            data.verify_changes = checklist_changes(verifies[-2], verifies[-1])
    first = min((datetime.fromisoformat(e["time"]) for e in history.entries), default=None)
    for release in releases:
        moment = datetime.fromisoformat(release.time)
        if first is None or moment >= first:
            data.marks.append((moment, f"{release.id} {release.kind}"))
    return data


def checklist_changes(before: dict[str, Any], after: dict[str, Any]
                      ) -> list[tuple[str, str, str]]:
    was = {name: verdict for name, verdict in before.get("checks") or []}
    changes = []
    for name, verdict in after.get("checks") or []:
        if name in was and was[name] != verdict:
            changes.append((name, was[name], verdict))
        elif name not in was:
            changes.append((name, "-", verdict))
    return changes
