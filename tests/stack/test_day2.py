"""The day-2 toolkit (#23) on one stack of its own: exec, maintenance mode, deploy hooks,
and the audit log they write."""

from __future__ import annotations

import json

import pytest

from tests.stack.conftest import docker, running_stack


@pytest.fixture(scope="module")
def day2_stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "t3d2-day2") as stack:
        yield stack


def audit_events(stack) -> list[dict]:
    path = stack.project_dir / ".tr4ctl" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_exec_passes_output_stdin_and_the_exit_code_through(day2_stack):
    done = day2_stack.tr4ctl("exec", "backend", "--", "sh", "-c",
                             "cat; echo to-out; echo to-err >&2; exit 7",
                             input="from-stdin\n", check=False)
    assert done.returncode == 7, done.stderr
    assert done.stdout == "from-stdin\nto-out\n"
    assert "to-err" in done.stderr
    ok = day2_stack.tr4ctl("exec", "nginx", "--", "nginx", "-v", check=False)
    assert ok.returncode == 0 and "nginx version" in ok.stderr
    last = audit_events(day2_stack)[-1]
    assert last["event"] == "exec" and last["service"] == "nginx" and last["program"] == "nginx"
    assert not any("to-err" in json.dumps(event) for event in audit_events(day2_stack))


def test_exec_into_a_stopped_service_is_exit_3_naming_up(day2_stack):
    renew = day2_stack.container_ids()["certbot-renew"]
    docker("stop", "--time", "1", renew)
    try:
        done = day2_stack.tr4ctl("exec", "certbot-renew", "--", "true", check=False)
        assert done.returncode == 3, done.stderr
        assert "certbot-renew is not running" in done.stderr and "tr4ctl up" in done.stderr
    finally:
        docker("start", renew)
