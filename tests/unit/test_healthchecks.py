"""The healthchecks' timing and what tr4ctl reads from them (plan/healthchecks.py), and how
status combines the engine's checks with tr4ctl's own record."""

import json

import pytest

from tr4ctl.docker import health
from tr4ctl.errors import OperationFailed
from tr4ctl.plan.healthchecks import (
    check_command,
    healthcheck_timing,
    not_ready_reason,
    own_check_is_newer,
    supports_start_interval,
)
from tr4ctl.plan.services import (
    ServiceState,
    engine_undecided,
    ready,
    stack_condition,
    with_own_checks,
)

SERVICES = ("backend", "nginx", "chroma", "certbot-renew")
STARTED = "2026-12-04T17:00:00.123456789Z"


def test_start_interval_needs_engine_25_and_compose_2_20_2():
    assert supports_start_interval("25.0.0", "2.20.2")
    assert supports_start_interval("27.3.1", "v2.40.3")
    assert not supports_start_interval("20.10.24+dfsg1", "2.40.3")
    assert not supports_start_interval("25.0.0", "2.20.1")
    assert not supports_start_interval(None, "2.40.3")
    assert not supports_start_interval("27.3.1", None)


def test_timing_by_engine_and_target():
    old = healthcheck_timing("30s", swarm=False, engine_version="20.10.24", compose_version="2.40.3")
    assert (old.interval, old.start_interval, old.retries) == ("30s", None, 3)
    assert not old.compose_waits_for_health
    new = healthcheck_timing("30s", swarm=False, engine_version="25.0.3", compose_version="2.24.0")
    assert (new.interval, new.start_interval) == ("30s", "1s") and new.compose_waits_for_health
    swarm = healthcheck_timing("30s", swarm=True, engine_version="27.0.0", compose_version="2.24.0")
    assert (swarm.interval, swarm.start_interval, swarm.retries) == ("1s", None, 30)


def test_check_command_runs_the_test_as_the_engine_would():
    assert check_command(["CMD", "pg_isready", "-q"]) == ["pg_isready", "-q"]
    assert check_command(["CMD-SHELL", "test -s /x || exit 1"]) == [
        "/bin/sh", "-c", "test -s /x || exit 1"]
    assert check_command(["NONE"]) is None
    assert check_command(None) is None
    assert check_command(["CMD"]) is None


def not_ready_body(**checks) -> str:
    return json.dumps({"status": "not_ready", "checks": {
        "database": {"ok": True, "reason": "sqlite: users table reachable"},
        **{name: {"ok": False, "reason": reason} for name, reason in checks.items()}}})


def test_not_ready_reason_from_the_backend_check_output():
    assert not_ready_reason('/ready 200 {"status":"ready","checks":{}}\n') is None
    output = f"/ready 503 {not_ready_body(chroma='unreachable at chroma:8000: timed out')}\n" \
             "/health 200 {\"status\":\"healthy\"}\n"
    assert not_ready_reason(output) == "chroma: unreachable at chroma:8000: timed out"
    assert not_ready_reason("/ready no answer within 3 s\n/health 200 {}\n") == \
        "no answer within 3 s"
    # Another service's check, or no check yet: nothing said about readiness.
    assert not_ready_reason("") is None and not_ready_reason(None) is None
    assert not_ready_reason("some other output") is None
    # A backend with no /ready (optional): live on /health is all it tells.
    assert not_ready_reason("/ready 404 <!DOCTYPE HTML>\n/health 200 {}\n") is None


def test_own_check_counts_until_the_engine_checks_again():
    during_this_run = "2026-12-04T17:00:05.5+00:00"
    assert own_check_is_newer(during_this_run, STARTED, None)
    # The engine checked after tr4ctl did: the engine's verdict stands.
    assert not own_check_is_newer(during_this_run, STARTED, "2026-12-04T17:00:30.000000001Z")
    # The engine's last check was of the container's previous run (restarted since).
    assert own_check_is_newer(during_this_run, STARTED, "2026-12-04T16:59:00Z")
    # tr4ctl's record is of a previous run of the container.
    assert not own_check_is_newer("2026-12-04T16:59:59+00:00", STARTED, None)
    assert not own_check_is_newer(None, STARTED, None)


def state(name: str, health: str | None = "healthy", **fields) -> ServiceState:
    return ServiceState(name, f"id-{name}", "running", health, started_at=STARTED, **fields)


def test_status_trusts_the_record_of_a_wait_while_the_engine_has_not_checked():
    states = {name: state(name) for name in SERVICES}
    states["backend"] = state("backend", "starting")
    assert stack_condition(states, SERVICES) == ("degraded",
                                                 ["backend is running, health starting"])
    seen = {"id-backend": "2026-12-04T17:00:04+00:00"}
    trusted = with_own_checks(states, seen)
    assert trusted["backend"].health == "healthy" and trusted["backend"].health_by == "tr4ctl"
    assert stack_condition(trusted, SERVICES) == ("healthy", [])
    # Once the engine's own check ran and failed, the record no longer counts.
    failing = {**states, "backend": state("backend", "starting",
                                          checked_at="2026-12-04T17:00:30Z")}
    assert with_own_checks(failing, seen)["backend"].health == "starting"


def test_a_live_backend_that_is_not_ready_makes_the_stack_degraded():
    states = {name: state(name) for name in SERVICES}
    states["backend"] = state("backend", checked_at="2026-12-04T17:00:30Z", check_output=(
        f"/ready 503 {not_ready_body(chroma='unreachable at chroma:8000: Name or service not known')}"
        "\n/health 200 {}\n"))
    condition, problems = stack_condition(states, SERVICES)
    assert condition == "degraded"
    assert problems == [("backend is not ready: chroma: unreachable at chroma:8000: "
                         "Name or service not known")]
    states["backend"] = state("backend", check_output='/ready 200 {"status":"ready"}\n')
    assert stack_condition(states, SERVICES) == ("healthy", [])


NOT_READY = (f"/ready 503 {not_ready_body(chroma='unreachable at chroma:8000: refused')}\n"
             "/health 200 {}\n")


def test_a_healthy_whose_output_says_not_ready_is_undecided_until_a_newer_ready_check():
    # With start_interval the engine's checks slow down at the first pass, on /health:
    # its "healthy" may say "not ready" for an interval.
    states = {name: state(name) for name in SERVICES}
    states["backend"] = state("backend", checked_at="2026-12-04T17:00:02Z",
                              check_output=NOT_READY)
    assert engine_undecided(states["backend"]) and not ready(states["backend"])
    assert ready(states["nginx"]) and not engine_undecided(states["nginx"])
    # A wait saw it pass its own check, ready, after the engine's last check: status agrees.
    trusted = with_own_checks(states, {"id-backend": "2026-12-04T17:00:04+00:00"})
    assert ready(trusted["backend"]) and stack_condition(trusted, SERVICES) == ("healthy", [])
    # A record older than the engine's check does not count.
    older = with_own_checks(states, {"id-backend": "2026-12-04T17:00:01+00:00"})
    assert stack_condition(older, SERVICES)[0] == "degraded"


class FakeEngine:
    """The quick read says healthy (no check output); the full read has the engine's last
    check, live but not ready; the container's own check is ready from its second run."""

    def __init__(self):
        self.seen_ready: dict[str, str] = {}
        self.own_checks = 0

    def quick_states(self, services):
        return {name: state(name) for name in services}

    def service_states(self, services):
        states = {name: state(name) for name in services}
        states["backend"] = state("backend", checked_at="2026-12-04T17:00:02Z",
                                  check_output=NOT_READY)
        return with_own_checks(states, self.seen_ready)

    def passes_own_check(self, container_id):
        self.own_checks += 1
        return self.own_checks >= 2


def test_the_wait_ends_healthy_only_once_status_would_say_so(monkeypatch):
    monkeypatch.setattr(health, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(health, "POLL_SECONDS", 0.0)
    engine = FakeEngine()
    startups, states = health.wait_healthy(engine, SERVICES, timeout=30)
    assert engine.own_checks == 2 and "id-backend" in engine.seen_ready
    assert all(s.seconds_to_healthy is not None for s in startups)
    assert stack_condition(states, SERVICES) == ("healthy", [])
    # What `status` reads next (the record kept): healthy too.
    assert stack_condition(engine.service_states(SERVICES), SERVICES) == ("healthy", [])


def test_a_wait_on_a_backend_never_ready_names_why(monkeypatch):
    monkeypatch.setattr(health, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(health, "POLL_SECONDS", 0.0)
    engine = FakeEngine()
    engine.passes_own_check = lambda container_id: False
    engine.container_logs = lambda container_id, lines: "log"
    with pytest.raises(OperationFailed) as failed:
        health.wait_healthy(engine, ("backend",), timeout=0.05)
    assert failed.value.message == ("service backend not ready after 0s (chroma: unreachable "
                                    "at chroma:8000: refused)")
