"""Fault drills on a real engine: kill -9 of the backend's and nginx's main processes
(the restart policies bring them back, no operator), two `tr4ctl up` at once, and a
`tr4ctl up` killed while it holds the stack's lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import pytest
from conftest import docker, own_environment, running_stack, wait_for

SERVICES = ("backend", "nginx", "chroma")


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "drills") as stack:
        yield stack


def states(stack) -> dict[str, dict]:
    return {s["service"]: s for s in stack.json("status")["data"]["services"]}


def all_healthy(current: dict[str, dict]) -> bool:
    return all(current[name]["state"] == "running" and current[name]["health"] == "healthy"
               for name in SERVICES)




def host_pid(container_id: str) -> int:
    return int(docker("inspect", "--format", "{{.State.Pid}}", container_id).strip())


def gunicorn_master(container_id: str) -> int:
    """The gunicorn process whose parent is the container's init (docker top: host pids)."""
    init = host_pid(container_id)
    rows = docker("top", container_id, "-eo", "pid,ppid,args").splitlines()[1:]
    for row in rows:
        pid, ppid, args = row.split(None, 2)
        if int(ppid) == init and "gunicorn" in args:
            return int(pid)
    raise AssertionError(f"no gunicorn master in {rows}")


def through_nginx_ok(stack) -> bool:
    try:
        return httpx.get(stack.url("/health"), timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def comes_back_by_itself(stack, service: str, before: dict) -> float:
    """Seconds until the service is running and healthy again, restarted by Docker (same
    container, restart count up), with nothing but `status` polled meanwhile."""
    began = time.monotonic()

    def recovered():
        current = states(stack)
        again = current[service]
        return (again["restart_count"] > before["restart_count"]
                and again["container_id"] == before["container_id"]
                and all_healthy(current))

    wait_for(recovered, f"{service} to come back healthy", every=0.25)
    wait_for(lambda: through_nginx_ok(stack), "nginx to serve /health again", every=0.25)
    return time.monotonic() - began


def health_reports_healthy(stack) -> None:
    """`tr4ctl health`: every check about state passes (latency is not judged here: the
    machine is shared, and these drills are about coming back, not speed)."""
    result = stack.tr4ctl("health", "--json", "--samples", "5", check=False)
    document = json.loads(result.stdout)
    state_checks = [c for c in document["checks"] if "metric" not in c]
    assert state_checks, document
    failing = [c for c in state_checks if not c["ok"]]
    assert not failing, failing


@pytest.mark.parametrize("service", ["backend", "nginx"])
def test_kill_9_of_the_main_process_heals_without_an_operator(stack, service):
    wait_for(lambda: all_healthy(states(stack)), "a healthy stack to start from")
    before = states(stack)[service]
    container = before["container_id"]
    victim = gunicorn_master(container) if service == "backend" else host_pid(container)
    os.kill(victim, signal.SIGKILL)

    seconds = comes_back_by_itself(stack, service, before)
    print(f"{service}: healthy again {seconds:.1f}s after kill -9 of pid {victim}")
    health_reports_healthy(stack)


def test_two_ups_at_once_end_with_one_healthy_stack(stack):
    stack.tr4ctl("down")
    command = stack.argv("up", "--env", "dev")
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=own_environment()) for _ in range(2)]
    results = [(run.wait(timeout=900), run.stderr.read()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()

    codes = sorted(code for code, _ in results)
    texts = " ".join(text for _, text in results)
    # One waits for the other (then finds nothing to do), or refuses naming the holder.
    assert codes in ([0, 0], [0, 1]), results
    assert "waiting for `tr4ctl up`" in texts or "another tr4ctl is changing this stack" in texts
    assert "Traceback" not in texts

    assert all_healthy(states(stack))
    for service in SERVICES:
        listed = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={stack.name}",
                        "--filter", f"label=com.docker.compose.service={service}", "-q")
        assert len(listed.split()) == 1, (service, listed)
    assert through_nginx_ok(stack)


def test_a_killed_holder_never_blocks_the_next_up(stack):
    stack.tr4ctl("down")
    lock = stack.project_dir / ".tr4ctl" / "lock"
    holder = subprocess.Popen(stack.argv("up", "--env", "dev"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=own_environment())
    try:
        # The holder names itself in the lock file once it holds the lock.
        wait_for(lambda: holder.poll() is not None or (lock.exists() and lock.read_text()),
                 "the first up to take the lock", every=0.05)
        assert holder.poll() is None
        assert json.loads(lock.read_text())["pid"] == holder.pid
        holder.send_signal(signal.SIGKILL)
    finally:
        holder.wait()

    result = stack.tr4ctl("up", "--env", "dev")
    assert "waiting for `tr4ctl" not in result.stderr  # the dead holder is no holder
    assert all_healthy(states(stack))
    for service in SERVICES:
        listed = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={stack.name}",
                        "--filter", f"label=com.docker.compose.service={service}", "-q")
        assert len(listed.split()) == 1, (service, listed)
