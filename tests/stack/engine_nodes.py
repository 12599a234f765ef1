"""A second, newer Docker engine for the compatibility matrix: Debian's docker.io from
the development suite (28.x) as dockerd in a container of the test's own, refusing every
client below API 1.44 as Docker Engine 29 does (../shared/docs/docker-here.md §5, §5a).

The host reaches it on a unix socket in a folder bind-mounted from the host. Its
containers' bind mounts are paths inside that container, so the folders the stacks use
are mounted there at the same path; its containers' published ports are in that
container's network namespace, so tr4ctl runs there (`nsenter --net`): the stack's
127.0.0.1 is then the engine's own, as on any host where tr4ctl runs beside its engine
(its port pre-flight and its HTTP checks both mean that host). No image registry: images
are copied in with `docker save | docker --host ... load`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

from conftest import docker, wait_for

NODE_IMAGE = "tr4ctl-test/engine-node:sid"
RECIPE_LABEL = "io.tr4ctl.recipe"
MIN_API_VERSION = "1.44"  # Engine 29's minimum, set on this engine explicitly
MMDEBSTRAP = ["mmdebstrap", "--variant=minbase", "--quiet",
              # The mirror's sid index is older than its validity date.
              "--aptopt=Acquire::Check-Valid-Until \"false\"",
              "--include=docker.io,docker-cli,tini,iptables,ca-certificates,procps,iproute2",
              "sid"]
CHANGES = ['CMD ["dockerd"]']


def recipe_hash(mmdebstrap: list[str] = MMDEBSTRAP, changes: list[str] = CHANGES) -> str:
    return hashlib.sha256(json.dumps([mmdebstrap, changes]).encode()).hexdigest()[:16]


def node_image(image: str = NODE_IMAGE, mmdebstrap: list[str] = MMDEBSTRAP,
               changes: list[str] = CHANGES) -> str:
    """Built once per recipe (its hash is a label on the image), then kept."""
    wanted = recipe_hash(mmdebstrap, changes)
    found = docker("image", "inspect", "--format",
                   f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', image, check=False)
    if found.strip() == wanted:
        return image
    with tempfile.TemporaryDirectory() as folder:
        tarball = Path(folder) / "node.tar"
        subprocess.run([*mmdebstrap, str(tarball)], check=True, capture_output=True)
        arguments = [arg for change in [*changes, f"LABEL {RECIPE_LABEL}={wanted}"]
                     for arg in ("--change", change)]
        docker("import", *arguments, str(tarball), image)
    return image


def engine_run_argv(name: str, network: str) -> list[str]:
    """`docker run -d` of a sid engine in a container of the test's own, NOT --privileged
    ("unable to apply caps"); the image and its command follow."""
    return ["run", "-d", "--name", name, "--hostname", name, "--network", network,
            # What the leftover sweep of a killed run looks for (conftest).
            "--label", f"com.docker.compose.project={name}",
            "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
            # Without it the engine cannot exec into a container running as another user.
            "--cap-add", "SYS_PTRACE",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            # Engine 28 writes its containers' sysctls (disable_ipv6 on eth0): /proc/sys
            # must be writable, which only `privileged` gives by default.
            "--security-opt", "systempaths=unconfined",
            "--tmpfs", "/run", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]


class EngineNode:
    """dockerd in a container, on a network of the test's own, its socket in
    `socket_dir`; `shared` folders are mounted at the same path inside it."""

    def __init__(self, name: str, socket_dir: Path, shared: list[Path]):
        self.name = name
        # t4t-<label>-<pid>_net: the leftover sweep reads the pid before the "_"; with a
        # "-net" tail it would take any run's network for a leftover.
        self.network = f"{name}_net"
        self.data_volume = f"{name}_data"
        self.socket_dir = socket_dir
        self.shared = shared
        self.pid: int | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket_dir}/docker.sock"

    def start(self) -> EngineNode:
        image = node_image()
        docker("network", "create", "--label", f"com.docker.compose.project={self.name}",
               self.network)
        mounts = [arg for folder in self.shared for arg in ("-v", f"{folder}:{folder}")]
        docker(*engine_run_argv(self.name, self.network),
               "-v", f"{self.data_volume}:/var/lib/docker",
               "-v", f"{self.socket_dir}:/sock", *mounts,
               "-e", f"DOCKER_MIN_API_VERSION={MIN_API_VERSION}",
               image, "dockerd", "--cgroup-parent", self.name,
               "-H", "unix:///sock/docker.sock")
        wait_for(lambda: self.docker("info", check=False) is not None, "the node's engine", 90)
        self.pid = int(docker("inspect", "--format", "{{.State.Pid}}", self.name).strip())
        return self

    def environment(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True) -> str | None:
        """The host's docker CLI against this engine."""
        result = subprocess.run(["docker", "--host", self.host, *args], capture_output=True,
                                text=True)
        if result.returncode != 0:
            if check:
                raise AssertionError(f"docker {' '.join(args)} on {self.name}: {result.stderr}")
            return None
        return result.stdout

    def load(self, *images: str) -> None:
        """`docker save | docker --host ... load`: no registry."""
        saved = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "--host", self.host, "load"], stdin=saved.stdout,
                                capture_output=True)
        saved.wait()
        assert saved.returncode == 0 and loaded.returncode == 0, loaded.stderr

    def in_network(self, argv: list[str]) -> list[str]:
        """argv run in this engine's network namespace (its 127.0.0.1), files as here."""
        assert self.pid is not None
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", *argv]

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)
        docker("volume", "rm", self.data_volume, check=False)
        docker("network", "rm", self.network, check=False)
