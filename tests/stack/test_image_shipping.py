"""Images without a registry, against real engines: `docker save` on this machine's
engine streamed into `docker load` on another engine (a node of the test's own), only
what it lacks by image id; an id it holds under another name only tagged."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
from conftest import docker, own_environment
from engine_nodes import EngineNode

from tr4ctl.actions.images.destinations import EngineDestination
from tr4ctl.actions.images.ship import LocalEngine, ship_images
from tr4ctl.docker.runner import Runner
from tr4ctl.errors import MissingPrerequisite
from tr4ctl.output import Output

pytestmark = [pytest.mark.own_engine]
PID = os.getpid()


def tiny_image(tag: str, content: bytes) -> str:
    """A one-file image made here (docker import of a small tar: nothing pulled)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    subprocess.run(["docker", "import", "-", tag], input=buffer.getvalue(), check=True,
                   capture_output=True)
    return docker("image", "inspect", "--format", "{{.Id}}", tag).strip()


@pytest.fixture(scope="module")
def node(docker_engine, tmp_path_factory):
    made = EngineNode(f"t4t-shipnode-{PID}", tmp_path_factory.mktemp("shipnode-socket"),
                      []).start()
    try:
        yield made
    finally:
        made.remove()


@pytest.fixture(scope="module")
def images():
    tags = {"first": f"t4t-ship-{PID}/tiny:1", "second": f"t4t-ship-{PID}/other:1"}
    ids = {"first": tiny_image(tags["first"], os.urandom(3 << 20)),
           "second": tiny_image(tags["second"], os.urandom(1 << 20))}
    yield tags, ids
    docker("rmi", "-f", *tags.values(), f"t4t-ship-{PID}/tiny:alias", check=False)


def ship(node, references):
    out = Output()
    source = LocalEngine(Runner(out), None)  # the docker CLI, as over any DOCKER_HOST
    return ship_images(EngineDestination(node.name, node.host, out), references, out,
                       engine=source)


def node_id(node, reference):
    return (node.docker("image", "inspect", "--format", "{{.Id}}", reference, check=False)
            or "").strip() or None


def test_a_missing_image_is_streamed_and_then_never_sent_again(node, images):
    tags, ids = images
    result = ship(node, [tags["first"], tags["second"]])
    assert sorted(result.sent) == sorted(tags.values()) and result.present == []
    # The stream was the two images (4 MiB of payload and the tar's own bytes).
    assert 4 << 20 < result.bytes_sent < 5 << 20, result.bytes_sent
    assert node_id(node, tags["first"]) == ids["first"]
    assert node_id(node, tags["second"]) == ids["second"]

    again = ship(node, [tags["first"], tags["second"]])
    assert again.sent == [] and again.tagged == [] and again.bytes_sent == 0
    assert sorted(again.present) == sorted(tags.values())
    assert json.dumps(again.as_dict())  # what --json emits


def test_an_id_the_node_holds_under_another_name_is_only_tagged(node, images):
    tags, ids = images
    alias = f"t4t-ship-{PID}/tiny:alias"
    docker("tag", tags["first"], alias)
    result = ship(node, [alias])
    assert result.tagged == [alias] and result.sent == [] and result.bytes_sent == 0
    assert node_id(node, alias) == ids["first"]


def test_a_changed_image_under_the_same_name_is_sent_again(node, images):
    tags, _ = images
    changed = tiny_image(tags["second"], os.urandom(1 << 20))  # same tag, new id
    result = ship(node, [tags["second"]])
    assert result.sent == [tags["second"]]
    assert node_id(node, tags["second"]) == changed


def test_an_image_this_machine_lacks_is_refused_before_anything_is_sent(node):
    with pytest.raises(MissingPrerequisite, match=f"t4t-ship-{PID}/absent:1"):
        ship(node, [f"t4t-ship-{PID}/absent:1"])


# -- over SSH, through the CLI: a host of the test's own, a user who needs sudo ------------
@pytest.fixture(scope="module")
def ssh_host(docker_engine, tmp_path_factory):
    from ssh_engine_hosts import SshHost

    made = SshHost(f"t4t-shipssh-{PID}", tmp_path_factory.mktemp("shipssh"))
    try:
        made.start(with_tr4ctl=False)
        made.trust()
        yield made
    finally:
        made.remove()


def ship_over_ssh(tmp_path, host, *images):
    done = subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), "--json",
         "images", "ship", "--host", host.address, *images],
        capture_output=True, text=True, timeout=600,
        env={**own_environment(), **host.ssh_environment()})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


def test_images_ship_over_ssh_sends_what_the_host_lacks_once(ssh_host, images, tmp_path):
    tags, ids = images
    first = ship_over_ssh(tmp_path, ssh_host, tags["first"])
    assert first["destination"] == ssh_host.address and first["via"] == "ssh"
    assert first["sent"] == [tags["first"]] and first["bytes_sent"] > 3 << 20
    # ubuntu is in no docker group: the inspect, the load and the check ran through sudo.
    assert node_id(ssh_host, tags["first"]) == ids["first"]
    again = ship_over_ssh(tmp_path, ssh_host, tags["first"])
    assert again["sent"] == [] and again["present"] == [tags["first"]]


def test_an_unknown_host_key_is_refused_before_anything_is_sent(ssh_host, images, tmp_path):
    tags, _ = images
    # A master connection still open from the test before would be reused without any
    # host key check (OpenSSH's ControlMaster): close it first.
    from tr4ctl.plan.ssh_target import parse_target
    from tr4ctl.remote.connection import SshConnection
    from tr4ctl.remote.settings import read_workstation

    os.environ.update(ssh_host.ssh_environment())
    try:
        SshConnection(parse_target(ssh_host.address),
                      read_workstation(tmp_path).ssh_options(), Output()).close()
    finally:
        for key in ssh_host.ssh_environment():
            os.environ.pop(key, None)
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), "images", "ship",
         "--host", ssh_host.address, tags["second"]], capture_output=True, text=True, timeout=120,
        env={**own_environment(), **ssh_host.ssh_environment(),
             "TR4CTL_SSH_KNOWN_HOSTS": str(empty)})
    assert done.returncode == 2, done.stderr
    assert f"host key is not in {empty}" in done.stderr, done.stderr
    assert "--accept-host-key" in done.stderr and "Traceback" not in done.stderr
    assert node_id(ssh_host, tags["second"]) is None
