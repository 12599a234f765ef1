"""What the observations mean: verdicts of health and verify, and their JSON document."""

import json

from tr4ctl.plan.baseline import OLD_DEPLOYMENT, Tolerance
from tr4ctl.plan.latency import summarize
from tr4ctl.plan.verdicts import (
    Process,
    answer_check,
    document,
    failed,
    gunicorn_workers,
    latency_check,
    non_root_check,
    own_processes,
    passed,
    readiness_check,
    service_check,
    skipped,
    workers_check,
)

FLAT = {"p50": 1.0, "p95": 1.0, "p99": 1.0}


def test_latency_within_tolerance_passes_with_figures_for_monitors():
    check = latency_check("nginx /health", "nginx", summarize([1.5, 2.0, 2.5]),
                          OLD_DEPLOYMENT.latency["nginx"], Tolerance())
    assert check.ok
    doc = check.as_dict()
    assert doc["p50_ms"] == 2.0 and doc["p95_ms"] and doc["p99_ms"]
    assert doc["baseline_ms"] == {"p50_ms": 60.0, "p95_ms": 60.0, "p99_ms": 60.0}
    assert doc["limit_ms"] == {"p50_ms": 121.0, "p95_ms": 121.0}


def test_impossible_baseline_fails_and_shows_both_figures():
    impossible = {"p50": 0.001, "p95": 0.001, "p99": 0.001}
    check = latency_check("backend /health (direct)", "backend", summarize([0.9, 1.2, 1.4]),
                          impossible, Tolerance())
    assert not check.ok
    assert "regression" in check.reason
    assert "p95 1.38" in check.reason  # measured
    assert "baseline 0.001 ms" in check.reason and "limit 1.002 ms" in check.reason


def test_only_gated_percentiles_fail_a_check():
    # p99 far above its baseline, p50 and p95 within: noise in the tail is shown, not failed.
    samples = [1.0] * 99 + [500.0]
    check = latency_check("x", "backend", summarize(samples), FLAT, Tolerance())
    assert check.ok


def test_errors_and_unreachable_paths_fail():
    with_errors = latency_check("nginx /health", "nginx", summarize([1.0]), FLAT, Tolerance(),
                                errors={"HTTP 502": 3})
    assert not with_errors.ok and "3x HTTP 502 of 4 requests" in with_errors.reason
    all_failed = latency_check("nginx /health", "nginx", None, FLAT, Tolerance(),
                               errors={"HTTP 502": 5})
    assert "every request failed: 5x HTTP 502" in all_failed.reason
    unreachable = latency_check("backend /health (direct)", "backend", None, FLAT, Tolerance(),
                                unreachable="backend unreachable: Could not resolve host: backend")
    assert not unreachable.ok and "backend" in unreachable.reason
    assert unreachable.as_dict()["p50_ms"] is None


def test_readiness_names_the_failing_dependency():
    body = {"status": "not_ready", "checks": {
        "database": {"ok": True, "reason": "users table reachable"},
        "data_dirs": {"ok": True, "reason": "4 directories writable"},
        "chroma": {"ok": False, "reason": "unreachable at chroma:8000: Name or service not known"}}}
    check = readiness_check(503, body, None)
    assert not check.ok
    assert check.reason.startswith("not ready: chroma: unreachable")
    assert "database" not in check.reason
    ready = readiness_check(200, {"status": "ready", "checks": {"database": {"ok": True}}}, None)
    assert ready.ok
    assert not readiness_check(None, None, "Could not resolve host: backend").ok


def test_services_stopped_or_unhealthy_are_named():
    assert service_check("backend", "running", "healthy").ok
    assert service_check("nginx", "running", None).ok  # no healthcheck defined
    stopped = service_check("backend", "exited", "unhealthy")
    assert not stopped.ok and stopped.reason == "backend is exited"
    assert "chroma" in service_check("chroma", "absent", None).reason
    assert "starting" in service_check("chroma", "running", "starting").reason


def test_answer_check():
    assert answer_check("chroma heartbeat", 200, None).ok
    assert "HTTP 500" in answer_check("chroma heartbeat", 500, None).reason
    assert "refused" in answer_check("chroma heartbeat", None, "Connection refused").reason


def gunicorn_tree(workers=1, uid=10001):
    return ([Process(uid, 1, 0, "/sbin/docker-init -- gunicorn --config /app/gunicorn.conf.py"),
             Process(uid, 7, 1, "/opt/venv/bin/python3 /opt/venv/bin/gunicorn --config x")]
            + [Process(uid, 10 + n, 7, "/opt/venv/bin/python3 /opt/venv/bin/gunicorn --config x")
               for n in range(workers)])


def test_gunicorn_workers_are_children_of_the_master():
    assert gunicorn_workers(gunicorn_tree(1)) == 1
    assert gunicorn_workers(gunicorn_tree(3)) == 3
    assert workers_check(1, 1, 1).ok
    mismatch = workers_check(2, 1, 1)
    assert not mismatch.ok and "2 workers running, 1 configured" in mismatch.reason


def test_backend_must_have_no_root_process():
    assert non_root_check("backend", gunicorn_tree()).ok
    as_root = non_root_check("backend", gunicorn_tree(uid=0))
    assert not as_root.ok and "root" in as_root.reason
    assert not non_root_check("backend", None).ok  # not running: cannot tell


def test_exec_sessions_are_not_the_services_processes():
    """A healthcheck run as root through `docker exec` (a child of the engine's shim,
    pid 900 here) is not a process of the service started as pid 100."""
    service = [Process(70, 100, 900, "postgres -D /var/lib/postgresql/data"),
               Process(70, 130, 100, "postgres: checkpointer"),
               Process(70, 131, 130, "postgres: a grandchild")]
    healthcheck = Process(0, 120, 900, "pg_isready -q -h 127.0.0.1")
    assert own_processes([*service, healthcheck], 100) == service
    assert non_root_check("postgres", own_processes([*service, healthcheck], 100)).ok
    # The main process not among them (it exited meanwhile): nothing is filtered.
    assert own_processes([healthcheck], 100) == [healthcheck]
    assert own_processes([*service, healthcheck], None) == [*service, healthcheck]


def test_nginx_master_may_be_root_its_workers_may_not():
    master = Process(0, 1, 0, "nginx: master process nginx -g daemon off;")
    good = [master, Process(33, 2, 1, "nginx: worker process")]
    assert non_root_check("nginx", good).ok
    bad = [master, Process(0, 2, 1, "nginx: worker process")]
    assert not non_root_check("nginx", bad).ok
    assert not non_root_check("nginx", [master]).ok


def test_internal_services_running_as_root_are_reported_not_failed():
    check = non_root_check("chroma", [Process(0, 1, 0, "chroma run")])
    assert check.ok and "root" in check.evidence
    # A service nobody decided about must be all non-root.
    assert not non_root_check("newcomer", [Process(0, 1, 0, "x")]).ok


def test_document_shape():
    checks = [passed("a", "1"), skipped("b", "prod only"), failed("c", "broken")]
    doc = json.loads(json.dumps(document("verify", checks, {"env": "dev"})))
    assert doc["status"] == "fail" and doc["exit_code"] == 1
    assert doc["command"] == "verify" and doc["data"] == {"env": "dev"}
    assert [c["ok"] for c in doc["checks"]] == [True, True, False]
    assert doc["checks"][1]["verdict"] == "skip"
    assert doc["errors"] == [{"message": "c: broken", "hint": None, "details": None}]
    assert {"name", "ok", "verdict", "evidence", "reason"} <= set(doc["checks"][0])
    passing = document("health", checks[:2], {})
    assert passing["status"] == "pass" and passing["exit_code"] == 0 and passing["errors"] == []
