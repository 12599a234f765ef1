"""Swarm nodes of the test's own: Docker engines in containers
(../shared/docs/docker-here.md §5, §5a), on a network the test makes.

Nothing here inits, joins or leaves a swarm on the host's engine: on Debian's 20.10,
`docker swarm leave --force` breaks Docker's embedded DNS for every container on every
network that existed before it (a running stack's backend then cannot resolve `chroma`).
The manager is an engine in a container; tr4ctl reaches it through DOCKER_HOST on a unix
socket in a host folder bind-mounted into it, and runs in its network namespace (nsenter),
as it would on a manager node: the ports it checks and the stack it probes on 127.0.0.1
are the node's. The test's own requests go to the node's address on the test network.
No registry: the stack's images are built on the host and loaded into the nodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from backend_images import REPO, build_image
from conftest import Stack, docker, new_stack, wait_for

NODE_IMAGE = "tr4ctl-test/swarm-node:bookworm"
NODE_PACKAGES = "docker.io,iptables,ca-certificates,procps,iproute2"
# What the stack's services run from, besides the backend (`images list` names that one).
IMAGE_SETTINGS = ("TR4CTL_NGINX_IMAGE", "TR4CTL_CHROMA_IMAGE", "TR4CTL_CERTBOT_IMAGE",
                  "TR4CTL_POSTGRES_IMAGE")


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


def node_run_argv(name: str, network: str, *extra: str) -> list[str]:
    """`docker run` of an engine in a container, NOT --privileged ("unable to apply caps")."""
    return ["run", "-d", "--name", name, "--hostname", name, "--network", network,
            # What the leftover sweep of a killed run looks for (conftest).
            "--label", f"com.docker.compose.project={name}",
            "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
            # Without it the node cannot exec into a container running as another user
            # (healthchecks of the backend, uid 10001): "setns process" fails.
            "--cap-add", "SYS_PTRACE",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", *extra,
            node_image(), "dockerd", "--cgroup-parent", name]


def address_on(container: str, network: str) -> str:
    found = json.loads(docker("inspect", container))[0]["NetworkSettings"]["Networks"]
    return found[network]["IPAddress"]


class Manager:
    """The swarm's manager: dockerd in a container on a network of the test's own, its
    /var/lib/docker on a volume (overlay2: the stack's images are large), its socket in a
    host folder, and the test's temporary folder (the projects) mounted at the same path:
    the bind mounts a stack asks for are paths inside this container."""

    def __init__(self, tmp_path_factory):
        pid = os.getpid()
        self.name = f"t4t-manager-{pid}"
        self.network = f"t4t-swarmnet-{pid}"
        self.volume = f"t4t-managerdata-{pid}"
        self.shared = tmp_path_factory.getbasetemp()
        self.socket = tmp_path_factory.mktemp("manager-socket") / "docker.sock"
        self.docker_host = f"unix://{self.socket}"
        self.address: str | None = None
        self.netns: str | None = None
        self.host_images: list[str] = []  # built on the host for this node: removed after

    def start(self) -> Manager:
        docker("network", "create", self.network)
        docker("volume", "create", self.volume)
        docker(*node_run_argv(self.name, self.network,
                              "-v", f"{self.volume}:/var/lib/docker",
                              "-v", f"{self.shared}:{self.shared}"),
               "-H", self.docker_host)
        self.address = address_on(self.name, self.network)
        pid = docker("inspect", "--format", "{{.State.Pid}}", self.name).strip()
        self.netns = f"/proc/{pid}/ns/net"
        wait_for(lambda: self.docker("info", check=False) is not None, "the manager's engine", 60)
        return self

    def docker(self, *args: str, check: bool = True) -> str | None:
        """The docker CLI against this node's engine."""
        result = subprocess.run(["docker", "--host", self.docker_host, *args],
                                capture_output=True, text=True)
        if result.returncode != 0:
            if check:
                raise AssertionError(f"docker {' '.join(args)} on {self.name}: {result.stderr}")
            return None
        return result.stdout

    def swarm_state(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()

    def init_swarm(self) -> None:
        self.docker("swarm", "init", "--advertise-addr", self.address)

    def worker_token(self) -> str:
        return self.docker("swarm", "join-token", "-q", "worker").strip()

    def load(self, image: str, *, as_tag: str | None = None) -> None:
        """The host's image into this node (`docker save | docker load`: no registry)."""
        saved = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "--host", self.docker_host, "load"],
                                stdin=saved.stdout, capture_output=True)
        saved.wait()
        assert saved.returncode == 0 and loaded.returncode == 0, loaded.stderr
        if as_tag and as_tag != image:
            self.docker("tag", image, as_tag)
            self.docker("rmi", image)

    def kill_process(self, pid: str) -> None:
        """SIGKILL to a process of this node (a task's State.Pid is in its namespace)."""
        docker("exec", self.name, "kill", "-KILL", pid)

    def remove(self) -> None:
        docker("rm", "-f", "--volumes", self.name, check=False)
        docker("volume", "rm", self.volume, check=False)
        docker("network", "rm", self.network, check=False)
        for image in self.host_images:
            docker("rmi", image, check=False)


@dataclass
class NodeStack(Stack):
    """A stack whose engine is the manager node's: tr4ctl runs with DOCKER_HOST at it and
    in its network namespace; the test reaches the published ports on its address."""

    manager: Manager | None = None

    def argv(self, *args: str) -> list[str]:
        return ["nsenter", f"--net={self.manager.netns}", "--", *super().argv(*args)]

    def tr4ctl(self, *args: str, env: dict | None = None, **options):
        return super().tr4ctl(*args, env={"DOCKER_HOST": self.manager.docker_host,
                                          **(env or {})}, **options)

    def url(self, path: str) -> str:
        return f"http://{self.manager.address}:{self.http_port}{path}"


def node_stack(tmp_path_factory, label: str, manager: Manager, *,
               settings: dict[str, str]) -> NodeStack:
    """A new project (settings and images made on the host, as new_stack does) whose
    commands run against the manager node."""
    made = new_stack(tmp_path_factory, label, settings=settings)
    return NodeStack(made.name, made.project_dir, made.http_port, made.https_port, manager)


def load_stack_images(stack: NodeStack) -> None:
    """Every image the stack runs, from the host into the manager. The backend image
    (tagged by the fingerprint of the shipped code) is built on the host under a tag of
    the test's own, so no host tag another project uses is made or changed."""
    host = Stack(stack.name, stack.project_dir, stack.http_port, stack.https_port)
    settings = host.json("config", "show")["data"]["settings"]
    for key in IMAGE_SETTINGS:
        stack.manager.load(settings[key])
    images = {row["role"]: row for row in host.json("images", "list")["data"]["images"]}
    backend = images["backend"]["image"]
    fingerprint = backend.rsplit(":", 1)[1]
    own = f"{stack.name}-backend:{fingerprint}"
    build_image(host, REPO / "backend", own, fingerprint)
    stack.manager.host_images.append(own)
    stack.manager.load(own, as_tag=backend)


class Node:
    """A worker: dockerd in a container, on the manager's network, joined to its swarm."""

    def __init__(self, manager: Manager, name: str):
        self.manager = manager
        self.name = name
        self.node_id: str | None = None

    def start(self, *, run_extra: tuple[str, ...] = (),
              dockerd_extra: tuple[str, ...] = ()) -> Node:
        docker(*node_run_argv(self.name, self.manager.network,
                              "--tmpfs", "/var/lib/docker:exec", *run_extra),
               "--storage-driver", "vfs", *dockerd_extra)
        wait_for(lambda: self.docker("info", check=False) is not None, "the node's engine", 60)
        self.docker("swarm", "join", "--token", self.manager.worker_token(),
                    f"{self.manager.address}:2377")
        self.node_id = self.docker("info", "--format", "{{.Swarm.NodeID}}").strip()
        wait_for(lambda: self.status() == "ready", "the node to be ready", 60)
        return self

    def docker(self, *args: str, check: bool = True) -> str | None:
        result = subprocess.run(["docker", "exec", "-i", self.name, "docker", *args],
                                capture_output=True)
        if result.returncode != 0:
            if check:
                raise AssertionError(f"docker {' '.join(args)} on {self.name}: "
                                     f"{result.stderr.decode(errors='replace')}")
            return None
        return result.stdout.decode(errors="replace")

    def load(self, image: str) -> None:
        """The manager's image into this node (`docker save | docker load`: no registry)."""
        saved = subprocess.Popen(["docker", "--host", self.manager.docker_host, "save", image],
                                 stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "exec", "-i", self.name, "docker", "load"],
                                stdin=saved.stdout, capture_output=True)
        saved.wait()
        assert saved.returncode == 0 and loaded.returncode == 0, loaded.stderr

    def status(self) -> str:
        if self.node_id is None:
            return "unknown"
        return (self.manager.docker("node", "inspect", "--format", "{{.Status.State}}",
                                    self.node_id, check=False) or "").strip()

    def drain(self) -> None:
        self.manager.docker("node", "update", "--availability", "drain", self.node_id)

    def kill(self) -> None:
        docker("kill", self.name, check=False)

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)
        if self.node_id:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.status() not in ("down", ""):
                time.sleep(1)
            self.manager.docker("node", "rm", "--force", self.node_id, check=False)


class SocketNode(Node):
    """A worker whose engine also listens on a socket in a host folder: the manager's
    tr4ctl reaches it there (the io.tr4ctl.docker-host label, set by start), as it would
    reach a node over SSH (io.tr4ctl.ssh), to ship it the images it lacks."""

    def __init__(self, manager: Manager, name: str, socket_dir: Path):
        super().__init__(manager, name)
        self.socket_dir = socket_dir

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_dir}/docker.sock"

    def start(self) -> SocketNode:
        super().start(run_extra=("-v", f"{self.socket_dir}:/sock"),
                      dockerd_extra=("-H", "unix:///var/run/docker.sock",
                                     "-H", "unix:///sock/docker.sock"))
        self.manager.docker("node", "update", "--label-add",
                            f"io.tr4ctl.docker-host={self.docker_host}", self.node_id)
        return self
