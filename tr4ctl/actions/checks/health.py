"""`tr4ctl health`: every service's state, readiness, Chroma, and latency against a
baseline. It only reads: a few requests, one `compose exec`, one `docker top`."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tr4ctl.actions.checks.backend_parts import image_parts
from tr4ctl.actions.checks.host_http import TimedConnection, describe_error
from tr4ctl.actions.nginx.apply import active_nginx_mode
from tr4ctl.actions.preflight import require_stack_running
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.files import write_atomic
from tr4ctl.plan.backend_contract import READY, not_provided
from tr4ctl.plan.baseline import Baseline, baseline_from_measurements, parse_baseline
from tr4ctl.plan.latency import LatencySummary, paired_overhead, summarize
from tr4ctl.plan.probe import (
    ProbeResult,
    build_probe_plan,
    curl_script,
    parse_probe_output,
    python_probe,
)
from tr4ctl.plan.services import ServiceState
from tr4ctl.plan.target import HostTarget, host_target
from tr4ctl.plan.verdicts import (
    Check,
    Process,
    answer_check,
    failed,
    gunicorn_workers,
    latency_check,
    own_processes,
    readiness_check,
    service_check,
    workers_check,
)
from tr4ctl.runtime import Runtime

WARMUP = 5
PROBE_TIMEOUT = 60.0


@dataclass
class HealthReport:
    project: str
    checks: list[Check]
    baseline: Baseline
    target: HostTarget
    nginx_mode: str | None
    probe_client: str | None
    latency: dict[str, LatencySummary] = field(default_factory=dict)
    workers: int | None = None
    seconds: float = 0.0

    def data(self) -> dict:
        return {
            "project": self.project,
            "nginx_mode": self.nginx_mode,
            "target": self.target.describe(),
            "in_network_client": self.probe_client,
            "latency_ms": {name: summary.as_ms() for name, summary in self.latency.items()},
            "baseline": self.baseline.as_document(),
            "tolerance": self.baseline.tolerance.as_dict(),
            "gunicorn_workers": self.workers,
            "seconds": self.seconds,
        }


def load_baseline(path: Path) -> Baseline:
    from tr4ctl.files import read_regular_text

    try:
        text = read_regular_text(path, "baseline")
    except FileNotFoundError:
        raise BadInput(f"baseline {path} does not exist",
                       "record one with `tr4ctl health --save-baseline FILE`") from None
    return parse_baseline(text, str(path))


def tls_domain(rt: Runtime, nginx_mode: str | None) -> str | None:
    return rt.config.domain if nginx_mode == "prod" else None


def probe_in_network(rt: Runtime, states: dict[str, ServiceState], *, samples: int,
                     warmup: int, nginx_mode: str | None) -> tuple[ProbeResult | None, str | None,
                                                                   str | None]:
    """(result, client used, why nothing could be probed)."""
    plan = build_probe_plan(samples=samples, warmup=warmup,
                            tls_domain=tls_domain(rt, nginx_mode))
    if states["nginx"].state == "running":
        completed = rt.engine.exec_in("nginx", curl_script(plan), check=False,
                                       timeout=PROBE_TIMEOUT)
        result = parse_probe_output(completed.stdout, warmup)
        if completed.returncode == 0 and not result.missing_client:
            return result, "curl in the nginx container", None
    if states["backend"].state == "running":
        argv, stdin = python_probe(plan)
        completed = rt.engine.exec_in("backend", argv, input_text=stdin, check=False,
                                       timeout=PROBE_TIMEOUT)
        if completed.returncode == 0:
            return parse_probe_output(completed.stdout, warmup), "python3 in the backend container", None
    return None, None, "neither nginx nor the backend runs: nothing to measure from inside"


def measure_host(target: HostTarget, *, samples: int,
                 warmup: int) -> tuple[list[float], dict[str, int], str | None]:
    """(milliseconds of the 200 answers, other outcomes counted, why nothing answered)."""
    times: list[float] = []
    errors: dict[str, int] = {}
    with TimedConnection(target) as connection:
        for index in range(warmup + samples):
            try:
                status, ms = connection.get("/health")
            except Exception as exc:  # noqa: BLE001 - any transport error is an outcome here
                if index == 0:
                    return [], {}, describe_error(exc)
                key = type(exc).__name__
                errors[key] = errors.get(key, 0) + 1
                continue
            if index < warmup:
                continue
            if status == 200:
                times.append(ms)
            else:
                errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
    return times, errors, None


def service_processes(rt: Runtime, state: ServiceState) -> list[Process] | None:
    if state.state != "running" or state.container_id is None:
        return None
    rows = rt.engine.top(state.container_id)
    if rows is None:
        return None
    processes = [Process(int(r["uid"]), int(r["pid"]), int(r["ppid"]), r["args"]) for r in rows
                 if r["uid"].isdigit() and r["pid"].isdigit() and r["ppid"].isdigit()]
    return own_processes(processes, state.main_pid)


def check_health(rt: Runtime, *, samples: int, baseline: Baseline,
                 save_to: Path | None = None) -> HealthReport:
    """`save_to`: where the caller will save the figures; checked now, before seconds of
    measuring."""
    started = time.monotonic()
    states = require_stack_running(rt)
    if save_to is not None:
        require_writable_file(save_to, "--save-baseline")
    settings = rt.config
    nginx_mode = active_nginx_mode(rt)
    target = host_target(settings, nginx_mode)
    checks = [service_check(name, states[name].state, states[name].health)
              for name in rt.services]
    report = HealthReport(settings.project_name, checks, baseline, target, nginx_mode, None)
    tolerance = baseline.tolerance

    with rt.out.progress(f"measuring {samples} pairs inside the stack's network"):
        probe, report.probe_client, no_probe = probe_in_network(
            rt, states, samples=samples, warmup=WARMUP, nginx_mode=nginx_mode)

    # nginx from the host, as users reach it.
    if states["nginx"].state == "running":
        with rt.out.progress(f"measuring {samples} requests to {target.describe()}"):
            host_times, host_errors, unreachable = measure_host(target, samples=samples,
                                                                warmup=WARMUP)
    else:
        host_times, host_errors, unreachable = [], {}, "nginx is not running"
    if host_times:
        report.latency["nginx"] = summarize(host_times)
    checks.append(latency_check(
        "nginx /health", "nginx", report.latency.get("nginx"), baseline.latency["nginx"],
        tolerance, errors=host_errors, unreachable=unreachable))

    # The backend directly, and what nginx adds, from inside the network.
    if probe is not None:
        direct_times, inner_times = probe.direct.samples_ms(), probe.nginx.samples_ms()
        if direct_times:
            report.latency["backend"] = summarize(direct_times)
        if inner_times:
            report.latency["nginx_in_network"] = summarize(inner_times)
        paired = paired_overhead(probe.nginx.paired_ms(), probe.direct.paired_ms())
        if paired is not None:
            report.latency["proxy_overhead"] = paired
        direct_error = probe.direct.error
        checks.append(latency_check(
            "backend /health (direct)", "backend", report.latency.get("backend"),
            baseline.latency["backend"], tolerance, errors=probe.direct.errors(),
            unreachable=f"backend unreachable: {direct_error}" if direct_error else None))
        overhead_error = None
        if "proxy_overhead" not in report.latency:
            overhead_error = ("needs both paths: "
                              f"{'nginx' if not inner_times else 'backend'} gave no samples")
        checks.append(latency_check(
            "proxy overhead", "proxy_overhead", report.latency.get("proxy_overhead"),
            baseline.latency["proxy_overhead"], tolerance, unreachable=overhead_error))
        if READY in image_parts(rt, states["backend"].image):
            checks.append(readiness_check(probe.ready_status, probe.ready_body,
                                          probe.ready_error))
        else:
            checks.append(not_provided("backend /ready", READY))
        checks.append(answer_check("chroma heartbeat", probe.heartbeat_status,
                                   probe.heartbeat_error))
    else:
        for name, metric in (("backend /health (direct)", "backend"),
                             ("proxy overhead", "proxy_overhead")):
            checks.append(latency_check(name, metric, None, baseline.latency[metric], tolerance,
                                        unreachable=no_probe))
        checks.append(failed("backend /ready", no_probe or "not probed", "-", "ready"))
        checks.append(failed("chroma heartbeat", no_probe or "not probed", "-", "HTTP 200"))

    processes = service_processes(rt, states["backend"])
    report.workers = gunicorn_workers(processes) if processes is not None else None
    checks.append(workers_check(report.workers, settings.gunicorn_workers,
                                baseline.gunicorn_workers))
    report.seconds = round(time.monotonic() - started, 3)
    return report


def require_writable_file(path: Path, option: str) -> None:
    folder = path.parent
    if path.is_dir():
        raise BadInput(f"{option} {path} is a folder", f"give a file name with {option}")
    if not folder.is_dir():
        raise BadInput(f"{option} {path}: the folder {folder} does not exist",
                       f"create it, or give another path with {option}")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInput(f"{option} {path} cannot be written by this user",
                       f"give another path with {option}")


def save_baseline(report: HealthReport, path: Path, source: str) -> Baseline:
    failing = [c.name for c in report.checks if c.figures.get("metric")
               and (c.figures.get("errors") or c.figures.get("p50_ms") is None)]
    if failing:
        raise OperationFailed(f"baseline not saved: {', '.join(failing)} did not measure cleanly",
                              "fix the failing checks, then save again")
    saved = baseline_from_measurements(source, report.latency, report.workers,
                                       report.baseline.tolerance)
    write_atomic(path, json.dumps(saved.as_document(), indent=2) + "\n")
    return saved
