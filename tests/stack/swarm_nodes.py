"""A swarm on this machine's engine, and a second node as a Docker engine in a container
(../shared/docs/docker-here.md §5): no registry, so images are loaded into it."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import docker, wait_for

NODE_IMAGE = "tr4ctl-test/swarm-node:bookworm"
NODE_PACKAGES = "docker.io,iptables,ca-certificates,procps,iproute2"


def swarm_state() -> dict:
    return json.loads(docker("info", "--format", "{{json .Swarm}}"))


def require_no_swarm() -> None:
    """The swarm tests make and leave their own swarm: an engine already in one (a
    developer's; a killed run's is left by the conftest sweep) is a set-up to fix, not a
    reason to prove less."""
    if swarm_state().get("LocalNodeState") == "active":
        pytest.fail("this engine is in a swarm the tests did not make: leave it first "
                    "(`docker swarm leave --force`), then run the swarm tests again")


class Swarm:
    """`docker swarm init` advertised on a bridge network of the test's own, the address
    a node in a container reaches; left (and its network removed) at the end."""

    def __init__(self):
        self.network = f"t4t-swarmnet-{os.getpid()}"
        self.address: str | None = None

    def start(self) -> Swarm:
        require_no_swarm()
        docker("network", "create", self.network)
        gateway = json.loads(docker("network", "inspect", self.network))[0]["IPAM"]["Config"][0]
        self.address = gateway.get("Gateway") or gateway["Subnet"].rsplit(".", 1)[0] + ".1"
        docker("swarm", "init", "--advertise-addr", self.address)
        return self

    def stop(self) -> None:
        docker("swarm", "leave", "--force", check=False)
        docker("network", "rm", self.network, check=False)
        docker("network", "rm", "docker_gwbridge", check=False)  # swarm leaves it behind

    def worker_token(self) -> str:
        return docker("swarm", "join-token", "-q", "worker").strip()


def node_image() -> str:
    """A Debian with the Docker engine (mmdebstrap, as `images build-local` makes its
    images), built once and kept."""
    if docker("images", "-q", NODE_IMAGE).strip():
        return NODE_IMAGE
    with tempfile.TemporaryDirectory() as folder:
        tarball = Path(folder) / "node.tar"
        subprocess.run(["mmdebstrap", "--variant=minbase", "--quiet",
                        f"--include={NODE_PACKAGES}", "bookworm", str(tarball)],
                       check=True, capture_output=True)
        docker("import", "--change", 'CMD ["dockerd"]', str(tarball), NODE_IMAGE)
    return NODE_IMAGE


class Node:
    """A worker: dockerd in a container, on the swarm's network, joined to it."""

    def __init__(self, swarm: Swarm, name: str):
        self.swarm = swarm
        self.name = name
        self.node_id: str | None = None

    def start(self) -> Node:
        docker("run", "-d", "--name", self.name, "--hostname", self.name,
               "--network", self.swarm.network,
               # What the leftover sweep of a killed run looks for (conftest).
               "--label", f"com.docker.compose.project={self.name}",
               "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
               # Without it the node cannot exec into a container running as another
               # user (healthchecks of the backend, uid 10001): "setns process" fails.
               "--cap-add", "SYS_PTRACE",
               "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
               "--tmpfs", "/run", "--tmpfs", "/var/lib/docker:exec",
               "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
               node_image(), "dockerd", "--storage-driver", "vfs",
               "--cgroup-parent", self.name)
        wait_for(lambda: self.docker("info", check=False) is not None, "the node's engine", 60)
        self.docker("swarm", "join", "--token", self.swarm.worker_token(),
                    f"{self.swarm.address}:2377")
        self.node_id = self.docker("info", "--format", "{{.Swarm.NodeID}}").strip()
        wait_for(lambda: self.status() == "ready", "the node to be ready", 60)
        return self

    def docker(self, *args: str, check: bool = True, input: bytes | None = None) -> str | None:
        result = subprocess.run(["docker", "exec", "-i", self.name, "docker", *args],
                                capture_output=True, input=input)
        if result.returncode != 0:
            if check:
                raise AssertionError(f"docker {' '.join(args)} on {self.name}: "
                                     f"{result.stderr.decode(errors='replace')}")
            return None
        return result.stdout.decode(errors="replace")

    def load(self, image: str) -> None:
        """`docker save | docker load`: no registry."""
        saved = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "exec", "-i", self.name, "docker", "load"],
                                stdin=saved.stdout, capture_output=True)
        saved.wait()
        assert saved.returncode == 0 and loaded.returncode == 0, loaded.stderr

    def status(self) -> str:
        if self.node_id is None:
            return "unknown"
        return docker("node", "inspect", "--format", "{{.Status.State}}", self.node_id,
                      check=False).strip()

    def drain(self) -> None:
        docker("node", "update", "--availability", "drain", self.node_id)

    def kill(self) -> None:
        docker("kill", self.name, check=False)

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)
        if self.node_id:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.status() not in ("down", ""):
                time.sleep(1)
            docker("node", "rm", "--force", self.node_id, check=False)
