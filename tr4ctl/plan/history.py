"""The project's run history (`.tr4ctl/history.jsonl`): one JSON line per `health`,
`bench` and `verify` run, the figures a report plots over time. Pure: the caller reads
and writes the file.

Each line carries `format_version`; a line of a newer version is skipped (a newer tr4ctl
wrote it: this one cannot know its fields), a damaged line too, and both are counted.
Lines before format 1 do not exist: history began with it. The file is bounded: past
MAX_BYTES the oldest lines go, about KEEP_BYTES of the newest kept (one rewrite, not one
at every append: a `stat` tells when).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tr4ctl.plan.baseline import Baseline

FORMAT_VERSION = 1
KINDS = ("health", "bench", "verify")
MAX_BYTES = 4 * 1024 * 1024  # some thousands of runs
KEEP_BYTES = 3 * 1024 * 1024
MAX_LINE_BYTES = 16_384  # a verify's checks and a bench histogram fit easily


@dataclass
class RunHistory:
    entries: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0  # damaged lines, or lines of a newer format

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry["kind"] == kind]

    def since(self, moment: datetime) -> RunHistory:
        kept = [e for e in self.entries if _time(e) is not None and _time(e) >= moment]
        return RunHistory(kept, self.skipped)


def health_entry(now: datetime, document: dict[str, Any], baseline: Baseline
                 ) -> dict[str, Any]:
    data = document.get("data") or {}
    return _entry("health", now, document, {
        "latency_ms": {path: {k: v for k, v in figures.items() if k.endswith("_ms")}
                       for path, figures in (data.get("latency_ms") or {}).items()},
        "limits_ms": {metric: {f"{name}_ms": baseline.tolerance.limit(figures[name])
                               for name in baseline.tolerance.gated if name in figures}
                      for metric, figures in baseline.latency.items()},
        "baseline": baseline.source,
        "gunicorn_workers": data.get("gunicorn_workers"),
    })


def verify_entry(now: datetime, document: dict[str, Any]) -> dict[str, Any]:
    return _entry("verify", now, document, {"env": (document.get("data") or {}).get("env")})


def bench_entry(now: datetime, result: dict[str, Any], histogram: list[list[float]]
                ) -> dict[str, Any]:
    entry = {"format_version": FORMAT_VERSION, "kind": "bench", "time": _utc(now),
             "status": "pass" if not result.get("failed") else "fail"}
    for key in ("url", "concurrency", "seconds", "requests", "requests_per_second",
                "failed", "errors", "latency_ms"):
        entry[key] = result.get(key)
    entry["histogram_ms"] = histogram
    return _bounded(entry)


def entry_line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n"


def parse_history(text: str) -> RunHistory:
    history = RunHistory()
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            history.skipped += 1
            continue
        if not _readable(entry):
            history.skipped += 1
            continue
        history.entries.append(entry)
    return history


def needs_trim(size: int) -> bool:
    return size > MAX_BYTES


def trimmed(lines: list[str], keep_bytes: int = KEEP_BYTES) -> list[str]:
    """The newest lines whose total stays within keep_bytes."""
    kept: list[str] = []
    total = 0
    for line in reversed(lines):
        total += len(line.encode())
        if total > keep_bytes:
            break
        kept.append(line)
    return kept[::-1]


def _readable(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    version = entry.get("format_version")
    return (isinstance(version, int) and 1 <= version <= FORMAT_VERSION
            and entry.get("kind") in KINDS and _time(entry) is not None)


def _entry(kind: str, now: datetime, document: dict[str, Any], extra: dict[str, Any]
           ) -> dict[str, Any]:
    entry = {"format_version": FORMAT_VERSION, "kind": kind, "time": _utc(now),
             "status": document.get("status"), "exit_code": document.get("exit_code"),
             "checks": [[check.get("name"), check.get("verdict")]
                        for check in document.get("checks") or []], **extra}
    return _bounded(entry)


def _bounded(entry: dict[str, Any]) -> dict[str, Any]:
    if len(entry_line(entry).encode()) > MAX_LINE_BYTES:
        entry.pop("checks", None)
        entry.pop("histogram_ms", None)
        entry["truncated"] = True
    return entry


def _utc(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def _time(entry: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(entry.get("time")))
    except ValueError:
        return None
