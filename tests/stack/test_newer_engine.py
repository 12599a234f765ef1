"""Issue 20's compatibility matrix: the core path against a second, newer engine.

Debian sid's docker.io 28.x runs as dockerd in a container of the test's own, with
DOCKER_MIN_API_VERSION=1.44 so it refuses old clients exactly as Docker Engine 29 does
(engine_nodes.py). tr4ctl runs on the host's files with the host's docker CLI and compose,
in the node's network namespace: the stack's 127.0.0.1 is the engine's own machine, as
wherever tr4ctl runs beside its engine. The host's engine is never asked about the stack.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

import pytest
from backend_images import build_context, build_image, build_missing_backend
from conftest import Stack, docker, new_stack, own_environment, wait_for
from engine_nodes import MIN_API_VERSION, EngineNode

# Runs beside the other tests (scripts/test.sh), as it never touches the host's stacks:
# the node's engine only (the host's builds and keeps the images).
pytestmark = [pytest.mark.own_engine]

ADMIN, FOUNDER = "admin@engine.test", "founder@engine.test"
SERVICES = ("backend", "nginx", "chroma")


@dataclass
class NodeStack(Stack):
    """A stack whose every tr4ctl command reaches the node's engine, from its network."""
    node: EngineNode | None = None

    def argv(self, *args: str) -> list[str]:
        return self.node.in_network(super().argv(*args))

    def tr4ctl(self, *args: str, env: dict | None = None, **kwargs):
        return super().tr4ctl(*args, env={**self.node.environment(), **(env or {})}, **kwargs)

    def get(self, path: str) -> tuple[int, str]:
        """An HTTP GET on the stack's published port, from the engine's machine."""
        result = subprocess.run(self.node.in_network(
            ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30",
             self.url(path)]), capture_output=True, text=True)
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body

    def post(self, path: str, payload: dict, token: str | None = None) -> tuple[int, str]:
        headers = ["-H", "Content-Type: application/json"] + (
            ["-H", f"Authorization: Bearer {token}"] if token else [])
        result = subprocess.run(self.node.in_network(
            ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30", *headers,
             "--data-binary", "@-", self.url(path)]), input=json.dumps(payload),
            capture_output=True, text=True)
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body


def host_containers(project: str) -> str:
    return docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                  "--format", "{{.Names}}").strip()


def node_containers(node: EngineNode, project: str) -> list[str]:
    return node.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                       "--format", "{{.Names}}").split()


def stack_images(stack: Stack) -> list[str]:
    """The stack's images on the host; the backend built here if missing (the node's
    containers reach no package index, and there is no registry)."""
    images = {i["role"]: i for i in stack.json("images", "list")["data"]["images"]}
    build_missing_backend(images, own_environment())
    return [i["image"] for i in images.values()]


@pytest.fixture(scope="module")
def node(docker_engine, tmp_path_factory):
    """One sid docker.io 28 engine for the module; the test's temporary folders (project
    dirs, backups, docker configs) at the same path inside it."""
    base = tmp_path_factory.getbasetemp()
    socket_dir = tmp_path_factory.mktemp("engine-sock")
    engine = EngineNode(f"t4t-engine-{os.getpid()}", socket_dir, [base])
    try:
        yield engine.start()
    finally:
        engine.remove()


@pytest.fixture(scope="module")
def stack(node, tmp_path_factory):
    plain = new_stack(tmp_path_factory, "newer")  # images built (cached) on the host engine
    node.load(*stack_images(plain))
    stack = NodeStack(plain.name, plain.project_dir, plain.http_port, plain.https_port,
                      node=node)
    try:
        yield stack
    finally:
        stack.tr4ctl("down", "--volumes", "--yes", check=False)


def test_the_node_refuses_clients_below_its_minimum_as_engine_29_does(node):
    result = subprocess.run(
        ["curl", "-sS", "--unix-socket", f"{node.socket_dir}/docker.sock",
         "http://engine/v1.41/version"], capture_output=True, text=True)
    assert f"client version 1.41 is too old. Minimum supported API version is " \
           f"{MIN_API_VERSION}" in result.stdout, result.stdout + result.stderr
    version = json.loads(node.docker("version", "--format", "{{json .Server}}"))
    assert version["Version"].startswith("28.") and version["MinAPIVersion"] == MIN_API_VERSION


def test_the_core_path_on_the_newer_engine(stack, node, tmp_path):
    # up, status --check, health
    stack.tr4ctl("up", "--env", "dev")
    assert len(node_containers(node, stack.name)) >= len(SERVICES)
    assert host_containers(stack.name) == ""
    # Right after `up` said healthy, `status --check` says so too (issue 20: `up` waits
    # for the backend ready, by status's own notion, not for its check's first pass).
    stack.tr4ctl("status", "--check")
    states = {s["service"]: s for s in stack.json("status")["data"]["services"]}
    for name in SERVICES:
        assert (states[name]["state"], states[name]["health"]) == ("running", "healthy")
    stack.tr4ctl("health")
    assert stack.get("/health")[0] == 200

    # users seed, non-interactive; the admin logs in through nginx
    passwords = tmp_path / "passwords.json"
    seeded = stack.json("users", "seed", "--admin-email", ADMIN, "--founder-email", FOUNDER,
                        "--generate", "--output", str(passwords))["data"]
    assert seeded["created"] == [ADMIN, FOUNDER]
    admin_password = {a["email"]: a["password"]
                      for a in json.loads(passwords.read_text())}[ADMIN]
    code, body = stack.post("/api/auth/login", {"email": ADMIN, "password": admin_password})
    assert code == 200, body

    # deploy of changed code (built on the host, copied into the node: no registry)
    with build_context(tmp_path, version="newer-1") as context:
        image = build_image(stack, context, f"{stack.name}-backend:newer-1", "newer-1")
    node.load(image)
    report = stack.json("deploy", "--image", image)["data"]
    assert {"start", "ready", "switch", "retire"} <= set(report["steps"])
    assert json.loads(stack.get("/version")[1])["version"] == "newer-1"

    # backup create, restore (into the running stack: a safety backup first)
    created = stack.json("backup", "create")["data"]
    archive = created["path"]
    stack.tr4ctl("backup", "verify", archive)
    restored = stack.json("backup", "restore", archive, "--yes")["data"]
    assert restored["safety_backup"]
    stack.tr4ctl("status", "--check")
    code, body = stack.post("/api/auth/login", {"email": ADMIN, "password": admin_password})
    assert code == 200, body

    # down --volumes: nothing of the stack left on the node
    stack.tr4ctl("down", "--volumes", "--yes")
    assert node_containers(node, stack.name) == []
    assert not [v for v in node.docker("volume", "ls", "--format", "{{.Name}}").split()
                if v.startswith(stack.name)]


def test_a_docker_context_points_status_and_up_at_the_node(stack, node, tmp_path):
    """DOCKER_CONTEXT, then `docker context use`: a config dir of the test's own."""
    config = tmp_path / "docker-config"
    subprocess.run(["docker", "--config", str(config), "context", "create", "newer-node",
                    "--docker", f"host={node.host}"], check=True, capture_output=True)
    env = {key: value for key, value in own_environment().items()
           if key not in ("DOCKER_HOST", "DOCKER_CONTEXT")}

    def tr4ctl(*args: str, **extra: str) -> subprocess.CompletedProcess:
        result = subprocess.run(node.in_network(Stack.argv(stack, *args)),
                                capture_output=True, text=True, timeout=900,
                                env={**env, "DOCKER_CONFIG": str(config), **extra})
        assert result.returncode == 0, result.stderr + result.stdout
        return result

    tr4ctl("up", "--env", "dev", DOCKER_CONTEXT="newer-node")
    try:
        assert len(node_containers(node, stack.name)) >= len(SERVICES)
        assert host_containers(stack.name) == ""
        status = json.loads(tr4ctl("--json", "status", DOCKER_CONTEXT="newer-node").stdout)
        ids = {s["service"]: s["container_id"] for s in status["data"]["services"]}
        assert set(SERVICES) <= set(ids)
        on_node = node.docker("ps", "-q", "--no-trunc", "--filter",
                              f"label=com.docker.compose.project={stack.name}").split()
        assert all(any(full.startswith(cid) for full in on_node) for cid in ids.values())

        # `docker context use` writes currentContext into this config dir only.
        subprocess.run(["docker", "--config", str(config), "context", "use", "newer-node"],
                       check=True, capture_output=True)
        assert json.loads((config / "config.json").read_text())["currentContext"] == "newer-node"
        status = json.loads(tr4ctl("--json", "status").stdout)
        assert {s["service"]: s["container_id"] for s in status["data"]["services"]} == ids
        tr4ctl("up", "--env", "dev")  # again: the same containers, on the node
        assert len(node_containers(node, stack.name)) >= len(SERVICES)
        assert host_containers(stack.name) == ""
    finally:
        tr4ctl("down", "--volumes", "--yes", DOCKER_CONTEXT="newer-node")
    wait_for(lambda: node_containers(node, stack.name) == [], "the stack gone from the node", 60)
