"""Bad configuration never breaks a running stack: refused before any container is
stopped, created or recreated, with .env unchanged (real engine)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import docker, own_environment, running_stack
from one_line import refused

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "conf") as running:
        yield running


def containers(stack) -> dict[str, str]:
    """service -> container id, with its state (a recreated or stopped one differs)."""
    listed = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={stack.name}",
                    "--format", '{{.Label "com.docker.compose.service"}} {{.ID}} {{.State}}')
    return {line.split()[0]: " ".join(line.split()[1:]) for line in listed.splitlines()}


def answers(stack) -> bool:
    return httpx.get(stack.url("/health"), timeout=5).status_code == 200


@pytest.mark.parametrize("env, args, words", [
    ({"TR4CTL_BIND_ADDRESS": "10.9.9.9"}, ["up"], ["10.9.9.9 is not an address of this host"]),
    ({"TR4CTL_BIND_ADDRESS": "999.1.1.1"}, ["up"], ["TR4CTL_BIND_ADDRESS", "IP address"]),
    ({"TR4CTL_DOMAIN": "bad!domain"}, ["up", "--env", "prod"], ["TR4CTL_DOMAIN"]),
    ({"TR4CTL_DOMAIN": "localhost"}, ["up", "--env", "prod"], ["TR4CTL_DOMAIN", "dot"]),
    ({}, ["config", "set", "TR4CTL_BIND_ADDRESS=10.9.9.9"], ["not an address of this host"]),
    ({}, ["config", "set", "TR4CTL_PROJECT_NAME=other"], ["renaming", "tr4ctl down"]),
    ({}, ["config", "set", "TR4CTL_DOMAIN=a.example.com\nJWT_SECRET_KEY=x"], ["a newline"]),
])
def test_refused_before_touching_a_running_stack(stack, env, args, words):
    before, env_bytes = containers(stack), (stack.project_dir / ".env").read_bytes()
    refused(stack.tr4ctl(*args, env=env, check=False), *words)
    assert containers(stack) == before
    assert (stack.project_dir / ".env").read_bytes() == env_bytes
    assert answers(stack)


@pytest.mark.parametrize("env, args, words", [
    ({}, ["config", "set", "TR4CTL_HEALTHCHECK_INTERVAL=0s"], ["TR4CTL_HEALTHCHECK_INTERVAL"]),
    ({"TR4CTL_HEALTHCHECK_INTERVAL": "0s"}, ["up"], ["TR4CTL_HEALTHCHECK_INTERVAL", "30s"]),
    ({}, ["config", "set", "TR4CTL_TEMPLATES_DIR=/nonexistent"], ["TR4CTL_TEMPLATES_DIR"]),
    ({"TR4CTL_TEMPLATES_DIR": "/nonexistent"}, ["up"], ["TR4CTL_TEMPLATES_DIR"]),
    ({}, ["config", "set", "TR4CTL_BACKEND_REPLICAS=3"], ["SQLite"]),
    ({"TR4CTL_BACKEND_REPLICAS": "2"}, ["up"], ["SQLite"]),
    ({}, ["config", "set", "TR4CTL_ACME_SERVER=https://" + "a" * 10_000 + ".test/dir"],
     ["TR4CTL_ACME_SERVER", "more than"]),
    ({}, ["up", "--env", "prod"], ["--env prod needs the site's domain"]),
])
def test_issue_19_values_are_refused_before_touching_a_running_stack(stack, env, args, words):
    before, env_bytes = containers(stack), (stack.project_dir / ".env").read_bytes()
    refused(stack.tr4ctl(*args, env=env, check=False), *words)
    assert containers(stack) == before
    assert (stack.project_dir / ".env").read_bytes() == env_bytes
    assert answers(stack)


def test_https_port_equal_to_http_port_is_refused_and_nothing_moves(stack):
    before = containers(stack)
    result = stack.tr4ctl("up", env={"TR4CTL_HTTPS_PORT": str(stack.http_port)}, check=False)
    refused(result, f"both {stack.http_port}")
    assert containers(stack) == before and answers(stack)


def test_a_busy_port_is_refused_before_nginx_is_replaced(stack):
    before = containers(stack)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        refused(stack.tr4ctl("config", "set", f"TR4CTL_HTTP_PORT={busy}", check=False),
                         f"port {busy}", "already in use")
    assert containers(stack) == before and answers(stack)


def test_config_set_says_what_it_reaches(stack):
    result = stack.tr4ctl("--json", "config", "set", "CORS_ORIGINS=https://app.example.test")
    report = json.loads(result.stdout)["data"]
    assert report["to_recreate"] == ["backend"]
    assert report["apply_with"] == "tr4ctl up --env dev"
    assert "`tr4ctl up --env dev` applies the change" in result.stderr
    setting = stack.tr4ctl("config", "set", "ENVIRONMENT=development")
    assert "ENVIRONMENT is set for the backend's container by `tr4ctl up --env dev`" in \
        setting.stderr


def test_a_folder_without_a_project_says_so(stack, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    command = [sys.executable, "-m", "tr4ctl", "--project-dir", str(empty)]
    # Changing commands too: from the wrong folder, `down --volumes` would otherwise act
    # on the default project's volumes.
    for args in (["status"], ["logs"], ["health"], ["verify"], ["down", "--volumes", "--yes"],
                 ["deploy"], ["nginx", "use", "dev"], ["backup", "create"]):
        result = subprocess.run([*command, *args], capture_output=True, text=True,
                                env=own_environment(), timeout=120)
        assert result.returncode == 3, result.stderr
        assert "no tr4ctl project there" in result.stderr
    assert list(empty.iterdir()) == []  # nothing made there either
    # Whatever runs under the default name: the folder decides, not the engine. Only a
    # project named explicitly is read without its folder (README, exit codes).
    named = subprocess.run([*command, "--project-name", stack.name, "--json", "status"],
                           capture_output=True, text=True, env=own_environment(), timeout=120)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["data"]["project"] == stack.name
    # (`status`, not `status --check`: what the waits saw pass is kept in the project's own
    # folder, so from another folder a just-started service may read "starting".)
    by_variable = subprocess.run([*command, "--json", "status"], capture_output=True, text=True,
                                 env={**own_environment(), "TR4CTL_PROJECT_NAME": stack.name},
                                 timeout=120)
    assert by_variable.returncode == 0, by_variable.stderr
    assert json.loads(by_variable.stdout)["data"]["project"] == stack.name
    assert list(empty.iterdir()) == []
    # A project whose name is mistyped removes nothing, and says so.
    configured = tmp_path / "configured"
    configured.mkdir()
    shutil.copy(stack.project_dir / ".env", configured / ".env")
    result = subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(configured),
                             "--project-name", "t4t-no-such-project", "down", "--volumes",
                             "--yes"], capture_output=True, text=True,
                            env=own_environment(), timeout=120)
    refused(result, "t4t-no-such-project has no volumes", "nothing to remove")


def test_an_unwritable_baseline_is_refused_before_measuring(stack):
    started = time.monotonic()
    refused(stack.tr4ctl("health", "--save-baseline", "/nonexistent/dir/b.json",
                                  check=False), "does not exist")
    assert time.monotonic() - started < 10


def test_bench_never_follows_another_projects_exported_settings(stack):
    """bench/run.py with this stack's TR4CTL_* exported (as the README's advice may leave
    them) runs its own throwaway stack and leaves this one alone."""
    before = containers(stack)
    volumes = set(docker("volume", "ls", "-q", "--filter", f"name={stack.name}_").split())
    exported = {"TR4CTL_PROJECT_DIR": str(stack.project_dir), "TR4CTL_PROJECT_NAME": stack.name,
                "TR4CTL_HTTP_PORT": str(stack.http_port)}
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--rounds", "1", "--only", "status"],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, **exported})
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["project"] != stack.name
    assert containers(stack) == before
    assert set(docker("volume", "ls", "-q", "--filter", f"name={stack.name}_").split()) == volumes
    assert answers(stack)
