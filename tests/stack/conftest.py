"""Stack tests: the real CLI against a real Docker engine, in throwaway projects.

Every test project is named t4t-*, publishes on 127.0.0.1 free ports only, and is
removed afterwards; leftovers of an earlier (killed) run are removed first.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

TEST_PREFIX = "t4t-"



def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.stack)


def own_environment() -> dict[str, str]:
    """The test process's environment without TR4CTL_* keys: a developer's exported
    TR4CTL_PROJECT_NAME must never point a test (or its teardown) at a real project."""
    return {key: value for key, value in os.environ.items() if not key.startswith("TR4CTL_")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
    return result.stdout


def is_leftover(name: str, finishing_pid: int | None = None) -> bool:
    """A t4t-<label>-<pid>... resource whose test run is gone (a live run keeps its own)."""
    if not name.startswith(TEST_PREFIX):
        return False
    pid = name[len(TEST_PREFIX):].split("_")[0].rsplit("-", 1)[-1]
    if not pid.isdigit() or int(pid) == finishing_pid:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def remove_leftovers(finishing_pid: int | None = None) -> None:
    """Containers, volumes and networks of earlier, finished or killed, test runs
    (and, at the end of a run, whatever this run itself left behind). A swarm test's
    nodes are containers labelled like a project (swarm_nodes.py): removing them removes
    their swarm; nothing here touches the host engine's own swarm state."""
    listing = docker("ps", "-a", "--format",
                     '{{.ID}} {{.Label "com.docker.compose.project"}}', check=False)
    stale = [line.split()[0] for line in listing.splitlines()
             if len(line.split()) == 2 and is_leftover(line.split()[1], finishing_pid)]
    if stale:
        docker("rm", "-f", *stale, check=False)
    for kind in ("volume", "network"):
        names = [n for n in docker(kind, "ls", "--format", "{{.Name}}", check=False).split()
                 if is_leftover(n, finishing_pid)]
        if names:
            docker(kind, "rm", *names, check=False)


@dataclass
class Stack:
    name: str
    project_dir: Path
    http_port: int
    https_port: int

    def tr4ctl(self, *args: str, input: str | None = None, env: dict | None = None,
               check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.argv(*args),
            input=input, capture_output=True, text=True, timeout=timeout,
            env={**own_environment(), **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tr4ctl {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stderr}\n{result.stdout}")
        return result

    def argv(self, *args: str) -> list[str]:
        """The CLI for this stack: its project dir and name always given explicitly (run
        it with own_environment())."""
        return [sys.executable, "-m", "tr4ctl", "--project-dir", str(self.project_dir),
                "--project-name", self.name, *args]

    def json(self, *args: str, **kwargs) -> dict:
        return json.loads(self.tr4ctl("--json", *args, **kwargs).stdout)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def container_ids(self) -> dict[str, str]:
        services = self.json("status")["data"]["services"]
        return {s["service"]: s["container_id"] for s in services}

    def compose_exec(self, service: str, *command: str, input: str | None = None) -> str:
        result = subprocess.run(
            ["docker", "compose", "-p", self.name, "-f",
             str(self.project_dir / ".tr4ctl" / "docker-compose.yml"), "exec", "-T", service,
             *command], input=input, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout


def wait_for(condition, what: str, timeout: float = 300.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def new_stack(tmp_path_factory, label: str, *, with_pebble: bool = False,
              settings: dict[str, str] | None = None) -> Stack:
    name = f"{TEST_PREFIX}{label}-{os.getpid()}"
    stack = Stack(name, tmp_path_factory.mktemp(name), free_port(), free_port())
    values = {"TR4CTL_PROJECT_NAME": name, "TR4CTL_BIND_ADDRESS": "127.0.0.1",
              "TR4CTL_HTTP_PORT": str(stack.http_port),
              "TR4CTL_HTTPS_PORT": str(stack.https_port), **(settings or {})}
    stack.tr4ctl("config", "set", *(f"{k}={v}" for k, v in values.items()))
    # No registry here: images come from packages (cached by recipe after the first run).
    stack.tr4ctl("images", "build-local", *(["--with-pebble"] if with_pebble else []))
    return stack


@contextmanager
def running_stack(tmp_path_factory, label: str, env: str = "dev", **options):
    """A new stack brought up, then removed with its volumes."""
    stack = new_stack(tmp_path_factory, label, **options)
    stack.tr4ctl("up", "--env", env)
    try:
        yield stack
    finally:
        stack.tr4ctl("down", "--volumes", "--yes", check=False)


def host_swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()


@pytest.fixture(scope="session")
def docker_engine():
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.fail("stack tests need a Docker engine: run scripts/test.sh (it starts one)")
    swarm_before = host_swarm_state()
    remove_leftovers()
    yield
    remove_leftovers(finishing_pid=os.getpid())
    # Leaving a swarm breaks the embedded DNS of every other stack on this engine
    # (docker-here.md §5): the suite must leave the host's swarm state as it found it.
    swarm_after = host_swarm_state()
    if swarm_after != swarm_before:
        pytest.fail(f"the stack tests changed this engine's swarm state: {swarm_before} "
                    f"before, {swarm_after} after (swarms belong on node engines, "
                    "tests/stack/swarm_nodes.py)")


@pytest.fixture(scope="session")
def dev_stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "dev") as stack:
        yield stack
