"""Checks and what they mean: the verdicts of `health` and `verify`, and the one JSON
document both print. Pure: every function takes what was observed and decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tr4ctl.plan.baseline import Tolerance
from tr4ctl.plan.latency import PERCENTILES, LatencySummary

Verdict = Literal["pass", "fail", "skip"]


@dataclass
class Check:
    name: str
    verdict: Verdict
    measured: str = ""  # the figure or state seen, short
    expected: str = ""  # the baseline or what should be seen
    evidence: str = ""  # how we know: what was asked and answered
    reason: str | None = None  # why it failed or was skipped
    figures: dict[str, Any] = field(default_factory=dict)  # extra JSON keys (p50_ms, ...)

    @property
    def ok(self) -> bool:
        # A skipped check (prod-only item in dev) is not a failure; its verdict says so.
        return self.verdict != "fail"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "verdict": self.verdict,
                "measured": self.measured, "expected": self.expected,
                "evidence": self.evidence, "reason": self.reason, **self.figures}


def passed(name: str, measured: str = "", expected: str = "", evidence: str = "",
           **figures: Any) -> Check:
    return Check(name, "pass", measured, expected, evidence, None, figures)


def failed(name: str, reason: str, measured: str = "", expected: str = "", evidence: str = "",
           **figures: Any) -> Check:
    return Check(name, "fail", measured, expected, evidence, reason, figures)


def skipped(name: str, reason: str, expected: str = "") -> Check:
    return Check(name, "skip", "-", expected, "", reason)


def overall(checks: list[Check]) -> Literal["pass", "fail"]:
    return "pass" if all(check.ok for check in checks) else "fail"


def document(command: str, checks: list[Check], data: dict[str, Any]) -> dict[str, Any]:
    """The --json document of health and verify.

    It keeps the keys of tr4ctl's envelope (command, status, exit_code, data, errors) so
    one parser reads every command, but status is "pass" or "fail" (a check result; a
    command that could not run at all prints the usual envelope with "error"), and the
    checks sit at the top level where monitors look for them.
    """
    status = overall(checks)
    return {
        "command": command,
        "status": status,
        "exit_code": 0 if status == "pass" else 1,
        "checks": [check.as_dict() for check in checks],
        "data": data,
        "errors": [{"message": f"{check.name}: {check.reason}", "hint": None, "details": None}
                   for check in checks if not check.ok],
    }


# -- services ------------------------------------------------------------------------
def service_check(service: str, state: str, health: str | None) -> Check:
    name = f"service {service}"
    seen = state if health is None else f"{state} ({health})"
    if state == "running" and health in ("healthy", None):
        return passed(name, seen, "running (healthy)", "docker inspect: state and healthcheck")
    if state == "absent":
        return failed(name, f"{service} has no container", seen, "running (healthy)",
                      hint_evidence(service))
    if state == "running":
        return failed(name, f"{service} is running but its healthcheck says {health}", seen,
                      "running (healthy)", hint_evidence(service))
    return failed(name, f"{service} is {state}", seen, "running (healthy)",
                  hint_evidence(service))


def hint_evidence(service: str) -> str:
    return f"see `tr4ctl logs {service}`; `tr4ctl up` starts it again"


# -- readiness ---------------------------------------------------------------------
def readiness_check(status_code: int | None, body: Any, error: str | None) -> Check:
    """The backend's /ready document, {"status": ..., "checks": {name: {"ok", "reason"}}}."""
    name = "backend /ready"
    if error is not None or status_code is None:
        return failed(name, f"backend unreachable: {error or 'no answer'}", "-", "ready")
    if not isinstance(body, dict) or not isinstance(body.get("checks"), dict):
        return failed(name, f"answered HTTP {status_code} without a readiness document",
                      str(status_code), "ready")
    dependencies = body["checks"]
    failing = {dep: (result or {}).get("reason", "?") for dep, result in dependencies.items()
               if not (isinstance(result, dict) and result.get("ok"))}
    evidence = ", ".join(f"{dep} {'ok' if dep not in failing else 'FAILED'}"
                         for dep in dependencies)
    if failing or body.get("status") != "ready":
        reason = "; ".join(f"{dep}: {why}" for dep, why in failing.items())
        return failed(name, f"not ready: {reason or body.get('status')}",
                      f"{body.get('status')} ({status_code})", "ready", evidence,
                      dependencies=dependencies)
    return passed(name, f"ready ({status_code})", "ready", evidence, dependencies=dependencies)


def answer_check(name: str, status_code: int | None, error: str | None,
                 expected: int = 200) -> Check:
    if error is not None or status_code is None:
        return failed(name, f"no answer: {error or 'unknown error'}", "-", f"HTTP {expected}")
    if status_code != expected:
        return failed(name, f"answered HTTP {status_code}", f"HTTP {status_code}",
                      f"HTTP {expected}")
    return passed(name, f"HTTP {status_code}", f"HTTP {expected}")


# -- latency ------------------------------------------------------------------------
def latency_check(name: str, metric: str, summary: LatencySummary | None,
                  baseline: dict[str, float], tolerance: Tolerance, *,
                  errors: dict[str, int] | None = None, unreachable: str | None = None) -> Check:
    """Fails when unreachable, when any sample errored, or when a gated percentile is
    above its limit; the reason names the percentile with both figures."""
    limits = {p: tolerance.limit(baseline[p]) for p in tolerance.gated}
    figures: dict[str, Any] = {
        "metric": metric,
        **({key: None for key in ("samples", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")}
           if summary is None else summary.as_ms()),
        "baseline_ms": {f"{p}_ms": baseline[p] for p in PERCENTILES},
        "limit_ms": {f"{p}_ms": limit for p, limit in limits.items()},
        "errors": dict(errors or {}),
    }
    expected = f"p50 {baseline['p50']:g} ms (limit {limits.get('p50', baseline['p50']):g})"
    listed = ", ".join(f"{count}x {what}" for what, count in sorted((errors or {}).items()))
    if summary is None:
        return failed(name, unreachable or (f"every request failed: {listed}" if listed
                                            else "no samples"), "-", expected, **figures)
    measured = f"p50 {summary.p50:.2f} / p95 {summary.p95:.2f} / p99 {summary.p99:.2f} ms"
    if errors:
        total = summary.samples + sum(errors.values())
        return failed(name, f"{listed} of {total} requests", measured, expected, **figures)
    over = [p for p in tolerance.gated if summary.figure(p) > limits[p]]
    if over:
        reason = "; ".join(
            f"{p} {summary.figure(p):.3f} ms > limit {limits[p]:g} ms "
            f"(baseline {baseline[p]:g} ms x {tolerance.ratio:g} + {tolerance.slack_ms:g} ms)"
            for p in over)
        return failed(name, f"regression: {reason}", measured, expected, **figures)
    return passed(name, measured, expected, tolerance.describe(), **figures)


# -- processes ----------------------------------------------------------------------
@dataclass(frozen=True)
class Process:
    uid: int
    pid: int
    ppid: int
    command: str  # the full command line


def own_processes(processes: list[Process], main_pid: int | None) -> list[Process]:
    """The service's processes: its main process and what descends from it. A `docker
    exec` session (the healthcheck, tr4ctl's own commands) is a child of the engine's
    shim, not of the service, and runs as whatever user it was given."""
    if main_pid is None or not any(p.pid == main_pid for p in processes):
        return processes
    tree, grew = {main_pid}, True
    while grew:
        grew = False
        for process in processes:
            if process.ppid in tree and process.pid not in tree:
                tree.add(process.pid)
                grew = True
    return [p for p in processes if p.pid in tree]


def gunicorn_workers(processes: list[Process]) -> int:
    """Workers are gunicorn processes whose parent is a gunicorn process (the master)."""
    gunicorns = {p.pid for p in processes if _is_gunicorn(p)}
    return sum(1 for p in processes if _is_gunicorn(p) and p.ppid in gunicorns)


def _is_gunicorn(process: Process) -> bool:
    return "gunicorn" in process.command and "docker-init" not in process.command


def workers_check(measured: int | None, configured: int, old_baseline: int | None) -> Check:
    name = "gunicorn workers"
    expected = f"{configured} (TR4CTL_GUNICORN_WORKERS)" + (
        f"; old deployment {old_baseline}" if old_baseline else "")
    if measured is None:
        return failed(name, "backend processes could not be listed", "-", expected)
    if measured != configured:
        return failed(name, f"{measured} workers running, {configured} configured",
                      str(measured), expected, workers=measured)
    return passed(name, str(measured), expected, "docker top: gunicorn children of the master",
                  workers=measured)


# Who may run as root, and why. The backend handles requests and user data: none of
# its processes may be root. nginx's master is root by design (it binds the ports and
# reads the TLS key, then drops privileges): its workers, which face clients, may not.
# The others run their image's default user (root); they are never published, so it is
# reported with the reason, not failed. A service not listed here must be all non-root.
ROOT_POLICY: dict[str, tuple[str, str]] = {
    "backend": ("all", ""),
    "nginx": ("workers", ("the master binds the ports and reads the TLS key, then drops "
                          "privileges")),
    "chroma": ("reported", ("the image's default; never published, answers only on the "
                            "stack's network")),
    "certbot-renew": ("reported", ("certbot's image default, writing root-owned certificates; "
                                   "never published, only outbound ACME requests")),
}


def non_root_check(service: str, processes: list[Process] | None) -> Check:
    name = f"non-root: {service}"
    policy, why = ROOT_POLICY.get(service, ("all", ""))
    if processes is None:
        return failed(name, f"{service} processes could not be listed (is it running?)", "-")
    uids = sorted({p.uid for p in processes})
    seen = "uid " + ", ".join(str(u) for u in uids)
    if policy == "all":
        root = [p.command for p in processes if p.uid == 0]
        if root:
            return failed(name, f"runs as root: {root[0][:60]}", seen, "no process as root")
        return passed(name, seen, "no process as root",
                      f"docker top: {len(processes)} processes, none uid 0")
    if policy == "workers":
        workers = [p for p in processes if "worker process" in p.command]
        if not workers:
            return failed(name, "no nginx worker process found", seen, "workers non-root")
        if any(p.uid == 0 for p in workers):
            return failed(name, "nginx workers run as root", seen, "workers non-root")
        worker_uids = ", ".join(sorted({str(p.uid) for p in workers}))
        return passed(name, seen, "workers non-root (master root by design)",
                      f"docker top: {len(workers)} workers as uid {worker_uids}; {why}")
    as_root = any(p.uid == 0 for p in processes)
    return passed(name, seen, "reported (not published)",
                  f"runs as root: {why}" if as_root else "no process as root")
