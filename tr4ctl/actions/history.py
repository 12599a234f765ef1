"""Each `health`, `bench` and `verify` run appended to the project's history, for
`report`. A history that cannot be written never fails the run it records: a warning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tr4ctl.plan.baseline import Baseline
from tr4ctl.plan.bench import BenchResult
from tr4ctl.plan.history import bench_entry, health_entry, verify_entry
from tr4ctl.plan.latency import histogram
from tr4ctl.project.run_history import append_run, history_file
from tr4ctl.runtime import Runtime


def record_health(rt: Runtime, document: dict[str, Any], baseline: Baseline) -> None:
    _append(rt, health_entry(datetime.now(UTC), document, baseline))


def record_verify(rt: Runtime, document: dict[str, Any]) -> None:
    _append(rt, verify_entry(datetime.now(UTC), document))


def record_bench(rt: Runtime, result: BenchResult) -> None:
    _append(rt, bench_entry(datetime.now(UTC), result.as_dict(),
                            histogram(result.answered_ms)))


def _append(rt: Runtime, entry: dict[str, Any]) -> None:
    try:
        append_run(rt.paths, entry)
    except OSError as exc:
        rt.out.warn(f"this run is not in {history_file(rt.paths)}: {exc.strerror or exc}")
