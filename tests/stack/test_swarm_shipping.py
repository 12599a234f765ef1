"""On a swarm of the test's own (swarm_nodes.py): `deploy --image NEW`, NEW only on the
manager, ends with NEW on each worker, shipped by tr4ctl itself (`docker save | docker
load`, only because the worker lacks that id), and a second deploy of NEW sends nothing.

The manager reaches one worker over SSH (the node label io.tr4ctl.ssh, a user who needs
sudo), the other by the label io.tr4ctl.docker-host (its engine's socket in a host
folder)."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import own_environment
from swarm_nodes import Manager, Node, load_stack_images, node_stack

pytestmark = [pytest.mark.own_engine]
ADMIN, FOUNDER = "admin@shipswarm.test", "founder@shipswarm.test"
PASSWORD = "ship-swarm-password-1"
REPLICAS = 2
SETTINGS = {"TR4CTL_DATABASE": "postgres", "TR4CTL_BACKEND_REPLICAS": str(REPLICAS),
            "TR4CTL_BIND_ADDRESS": "0.0.0.0"}


class SocketNode(Node):
    """A worker whose engine also listens on a socket in a host folder: the manager's
    tr4ctl reaches it there (the io.tr4ctl.docker-host label)."""

    def __init__(self, manager: Manager, name: str, socket_dir):
        super().__init__(manager, name)
        self.socket_dir = socket_dir

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_dir}/docker.sock"

    def start(self) -> SocketNode:
        super().start(run_extra=("-v", f"{self.socket_dir}:/sock"),
                      dockerd_extra=("-H", "unix:///var/run/docker.sock",
                                     "-H", "unix:///sock/docker.sock"))
        return self


@pytest.fixture(scope="module")
def manager(docker_engine, tmp_path_factory):
    node = Manager(tmp_path_factory).start()
    node.init_swarm()
    try:
        yield node
    finally:
        node.remove()


@pytest.fixture(scope="module")
def stack(manager, tmp_path_factory):
    stack = node_stack(tmp_path_factory, "shipswarm", manager, settings=SETTINGS)
    load_stack_images(stack)
    stack.tr4ctl("up", "--target", "swarm")
    yield stack
    stack.tr4ctl("down", "--volumes", "--yes", check=False)


@pytest.fixture(scope="module")
def ssh_worker(stack, tmp_path_factory):
    """A second worker the manager reaches over SSH (io.tr4ctl.ssh): sshd beside its
    engine, a user who needs sudo, keys and known_hosts the test makes."""
    from ssh_engine_node import SshEngineNode

    node = SshEngineNode(f"t4t-shipsshworker-{os.getpid()}",
                         tmp_path_factory.mktemp("shipsshworker"), stack.manager.network)
    node.start()
    try:
        node.docker("swarm", "join", "--token", stack.manager.worker_token(),
                    f"{stack.manager.address}:2377")
        node_id = node.docker("info", "--format", "{{.Swarm.NodeID}}").strip()
        stack.manager.docker("node", "update", "--label-add", f"io.tr4ctl.ssh={node.url}",
                             node_id)
        yield node
    finally:
        node.remove()
        stack.manager.docker("node", "rm", "--force", node.name, check=False)


@pytest.fixture(scope="module")
def worker(stack, tmp_path_factory):
    node = SocketNode(stack.manager, f"t4t-shipworker-{os.getpid()}",
                      tmp_path_factory.mktemp("shipworker-socket")).start()
    stack.manager.docker("node", "update", "--label-add",
                         f"io.tr4ctl.docker-host={node.docker_host}", node.node_id)
    try:
        yield node
    finally:
        node.remove()


def new_backend_image(stack, tag: str, tmp_path) -> str:
    """A new image id from the backend image the test built on the host (another label:
    its layers are the running release's, its id is new)."""
    running = next(image for image in stack.manager.host_images if "-backend:" in image)
    (tmp_path / "Dockerfile").write_text(f"FROM {running}\nLABEL io.tr4ctl.test={tag}\n")
    subprocess.run(["docker", "build", "-q", "-t", tag, str(tmp_path)], check=True,
                   capture_output=True, env={**own_environment(), "DOCKER_BUILDKIT": "0"})
    return tag


def image_id_on(node, image: str) -> str | None:
    return (node.docker("image", "inspect", "--format", "{{.Id}}", image, check=False)
            or "").strip() or None


def backend_nodes(stack) -> list[str]:
    services = stack.json("status")["data"]["services"]
    return next(s for s in services if s["service"] == "backend")["nodes"]


def test_a_deploy_ships_the_new_image_to_the_workers_by_itself_once(stack, worker, ssh_worker,
                                                                   tmp_path):
    new = new_backend_image(stack, f"{stack.name}-backend:shipped", tmp_path)
    stack.manager.load(new)
    stack.manager.host_images.append(new)
    expected = stack.manager.docker("image", "inspect", "--format", "{{.Id}}", new).strip()
    assert image_id_on(worker, new) is None and image_id_on(ssh_worker, new) is None

    report = stack.json("deploy", "--image", new, env=ssh_worker.environment())["data"]
    assert report["release"]["result"] == "succeeded"
    shipped = {r["destination"]: r for r in report["shipped"]}
    for node, destination, via in ((worker, worker.name, "engine"),
                                   (ssh_worker, ssh_worker.url, "ssh")):
        assert shipped[destination]["sent"] == [new], report["shipped"]
        assert shipped[destination]["via"] == via
        assert shipped[destination]["bytes_sent"] > 100 << 20  # the whole image crossed
        assert image_id_on(node, new) == expected
    # The rolling update placed replicas on the worker (spread: it had none), and they
    # run what was shipped there.
    assert worker.node_id[:12] in backend_nodes(stack), backend_nodes(stack)
    running = worker.docker("ps", "--format", "{{.Image}}").split()
    assert any(image.startswith(new) for image in running), running

    again = stack.json("deploy", "--image", new, env=ssh_worker.environment())["data"]
    assert again["release"]["result"] == "succeeded"
    assert len(again["shipped"]) == 2
    for second in again["shipped"]:
        assert second["sent"] == [] and second["bytes_sent"] == 0
        assert second["present"] == [new]
