"""SIGTERM (what `timeout`, systemd and CI send) is an interruption like Ctrl-C: a
`deploy`, `db use postgres` or `backup restore` terminated at a step exits 143, frees
the lock, records the step for `status`, and leaves the old release or database
serving. And `bench/run.py` terminated removes its throwaway stack.

Each kill waits for an event (the step written in .tr4ctl/state.json before the step
starts), never a sleep. The steps chosen last long on purpose: the healthchecks run
every 30 s for the command killed (TR4CTL_HEALTHCHECK_INTERVAL in its environment
only), so `ready` and PostgreSQL's start are still under way when the signal lands,
and a 40 MB file in Chroma's volume makes the restore's safety backup and replace take
seconds. One stack for the module; each test leaves it healthy and serving.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import docker, own_environment, running_stack, wait_for
from signalling import lock_is_free, signal_at, state_file

ADMIN, FOUNDER = "admin@signals.test", "founder@signals.test"
PASSWORD = "signals-test-password-1"
SLOW_HEALTH = {"TR4CTL_HEALTHCHECK_INTERVAL": "30s"}
BEFORE_THE_SWITCH = {
    "deploy": ["backup", "build", "start", "ready", "switch"],
    "db use": ["backup", "target", "start", "ready", "pause", "copy", "verify", "switch"],
    "backup restore": ["stop", "safety", "replace"],
}


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "sig") as running:
        yield running


@pytest.fixture(scope="module")
def archive(stack, tmp_path_factory) -> Path:
    """A backup taken before the accounts exist (a restore that went through would
    remove them), of a Chroma volume with 40 MB in it (so restoring takes seconds)."""
    stack.compose_exec("chroma", "sh", "-c", "head -c 41943040 /dev/urandom > "
                       "/data/t4t-ballast.bin")
    where = tmp_path_factory.mktemp("archives")
    path = stack.json("backup", "create", "--dir", str(where))["data"]["path"]
    stack.tr4ctl("users", "seed", "--admin-email", ADMIN, "--founder-email", FOUNDER,
                 "--password-stdin", input=f"{PASSWORD}\n{PASSWORD}\n")
    return Path(path)


def terminate_at(stack, step: str, *args: str) -> tuple[subprocess.Popen, str, str]:
    """`tr4ctl ARGS` started, SIGTERM sent to it once it has recorded `step`."""
    process = subprocess.Popen(stack.argv(*args), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**own_environment(), **SLOW_HEALTH})
    out, err = signal_at(stack, process, "step_in_progress", step)
    return process, out, err


def login_works(stack) -> bool:
    """A login through nginx (bcrypt: seconds on this loaded machine, hence the time)."""
    try:
        return httpx.post(stack.url("/api/auth/login"), timeout=120,
                          json={"email": ADMIN, "password": PASSWORD}).status_code == 200
    except httpx.HTTPError:
        return False


def health_answers(stack) -> bool:
    try:
        return httpx.get(stack.url("/health"), timeout=30).status_code == 200
    except httpx.HTTPError:
        return False


def backend(stack) -> dict:
    return next(s for s in stack.json("status")["data"]["services"] if s["service"] == "backend")


def assert_terminated_and_put_back(stack, process, err: str, command: str, step: str) -> None:
    assert process.returncode == 143, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "SIGTERM" in errors[0]
    assert lock_is_free(stack)
    assert "step_in_progress" not in state_file(stack)
    recorded = state_file(stack)["last_interrupted"]
    assert recorded["command"] == command and recorded["signal"] == "SIGTERM"
    # The step waited for, or one after it that the signal caught, never past the switch.
    steps = BEFORE_THE_SWITCH[command]
    assert recorded["step"] in steps[steps.index(step):], recorded
    status = stack.tr4ctl("--json", "status", "--check", check=False)
    assert status.returncode == 0, status.stderr  # healthy: the old one serves
    data = json.loads(status.stdout)["data"]
    assert data["interrupted"]["step"] == recorded["step"]
    assert f"`tr4ctl {command}`" in status.stderr
    assert f"interrupted (SIGTERM) at {recorded['step']}" in status.stderr
    # The old release / database serves: through nginx, with its accounts.
    wait_for(lambda: health_answers(stack), "/health through nginx", timeout=120)
    emails = {u["email"] for u in stack.json("users", "list")["data"]["users"]}
    assert {ADMIN, FOUNDER} <= emails
    wait_for(lambda: login_works(stack), "a login through nginx", timeout=300, every=5)
    assert len(docker("ps", "-q", "--filter", f"label=com.docker.compose.project={stack.name}",
                      "--filter", "label=com.docker.compose.service=backend").split()) == 1


@pytest.mark.parametrize("step", ["backup", "ready"])
def test_deploy_terminated_leaves_the_old_release_serving(stack, archive, step):
    before_env = (stack.project_dir / ".env").read_bytes()
    old = backend(stack)
    process, _out, err = terminate_at(stack, step, "deploy")
    assert_terminated_and_put_back(stack, process, err, "deploy", step)
    assert "still serves, unchanged" in err
    now = backend(stack)
    assert (now["container_id"], now["started_at"]) == (old["container_id"], old["started_at"])
    history = stack.json("releases")["data"]
    current = next(r for r in history["releases"] if r["id"] == history["current"])
    assert current["image"] == old["image"] and current["result"] == "succeeded"
    assert history["releases"][-1]["result"] == "failed"
    assert history["releases"][-1]["failed_step"] == state_file(stack)["last_interrupted"]["step"]
    assert (stack.project_dir / ".env").read_bytes() == before_env
    stack.tr4ctl("nginx", "use", "dev")  # the next changing command runs


@pytest.mark.parametrize("step", ["target", "ready"])
def test_db_use_postgres_terminated_leaves_sqlite_serving(stack, archive, step):
    before_env = (stack.project_dir / ".env").read_bytes()
    process, _out, err = terminate_at(stack, step, "db", "use", "postgres")
    assert_terminated_and_put_back(stack, process, err, "db use", step)
    assert "sqlite database is still the current one" in err
    assert (stack.project_dir / ".env").read_bytes() == before_env
    assert stack.json("db", "status")["data"]["setting"] == "sqlite"


@pytest.mark.parametrize("step", ["safety", "replace"])
def test_restore_terminated_leaves_the_old_data_serving(stack, archive, step, tmp_path):
    process, _out, err = terminate_at(stack, step, "backup", "restore", str(archive), "--yes",
                                     "--dir", str(tmp_path))
    assert_terminated_and_put_back(stack, process, err, "backup restore", step)
    assert not (stack.project_dir / ".tr4ctl" / "restore-journal.json").exists()
    # The accounts made after the archive are there: the archive was not put in.
    assert {u["email"] for u in stack.json("users", "list")["data"]["users"]} >= {ADMIN,
                                                                                  FOUNDER}


def test_bench_terminated_removes_its_throwaway_stack(docker_engine):
    bench = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parents[2] / "bench" / "run.py"),
         "--only", "status", "--rounds", "1", "--samples", "5", "--duration", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=own_environment())
    project = f"bench-{bench.pid}"
    try:
        # The event: its stack is up (it says so before measuring the first section).
        seen = []
        for line in bench.stderr:
            seen.append(line)
            if line.startswith("bench: status"):
                break
        assert docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}"), seen
        bench.send_signal(signal.SIGTERM)
        out, err = bench.communicate(timeout=600)
        assert bench.returncode == 143, "".join(seen) + err
        assert out == ""
        assert "tearing down" in err
        assert docker("ps", "-aq", "--filter",
                      f"label=com.docker.compose.project={project}") == ""
        assert docker("volume", "ls", "-q", "--filter", f"name={project}_") == ""
        assert docker("network", "ls", "-q", "--filter", f"name={project}_") == ""
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        leftovers = docker("ps", "-aq", "--filter",
                           f"label=com.docker.compose.project={project}").split()
        if leftovers:  # only this test's own bench project
            docker("rm", "-f", *leftovers, check=False)
        volumes = docker("volume", "ls", "-q", "--filter", f"name={project}_").split()
        if volumes:
            docker("volume", "rm", *volumes, check=False)
