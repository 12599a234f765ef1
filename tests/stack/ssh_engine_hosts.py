"""A production host of the test's own, reached over SSH (issue 21): Debian sid's
docker.io engine and OpenSSH's server in one container (../shared/docs/docker-here.md §5,
§5a), on a network the test makes, with a user `ubuntu` who needs sudo (NOPASSWD, not in
the docker group), a key pair the test generates (0600) and a known_hosts file the test
owns (nothing is written to ~/.ssh).

test_remote.py and bench/remote.py drive tr4ctl on it; test_image_shipping.py ships images
to its engine (`images ship --host`), the docker commands run through sudo.

tr4ctl is installed there as `host bootstrap` will install it, at /opt/tr4ctl/venv, from
a wheel of this working tree: the image carries a virtualenv with tr4ctl's dependencies
(downloaded here for the image's Python, once per recipe), each host gets the wheel with
--no-deps. The compose plugin is not in Debian's sid image: the host's own plugin binary
is copied in. Images reach the host's engine with `docker save | docker exec -i NODE
docker load` (no registry).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

from backend_images import build_missing_backend
from conftest import Stack, docker, own_environment, wait_for
from engine_nodes import engine_run_argv
from ssh_host_base import HostResources

REPO = Path(__file__).resolve().parents[2]
IMAGE = "tr4ctl-test/ssh-host:sid"
BASE_IMAGE = "tr4ctl-test/ssh-host-base:sid"
RECIPE_LABEL = "io.tr4ctl.recipe"
USER = "ubuntu"
VENV = "/opt/tr4ctl/venv"
PACKAGES = "docker.io,docker-cli,tini,iptables,ca-certificates,procps,iproute2," \
           "openssh-server,sudo,python3,python3-venv"
MMDEBSTRAP = ["mmdebstrap", "--variant=minbase", "--quiet",
              "--aptopt=Acquire::Check-Valid-Until \"false\"", f"--include={PACKAGES}", "sid"]
COMPOSE_PLUGIN = Path("/usr/local/lib/docker/cli-plugins/docker-compose")
PLUGIN_IN_IMAGE = "/usr/libexec/docker/cli-plugins/docker-compose"
# sshd and dockerd side by side; tini reaps what either leaves.
START = ("ssh-keygen -A >/dev/null && mkdir -p /run/sshd && /usr/sbin/sshd -E /var/log/sshd.log"
         " && exec dockerd --cgroup-parent \"$NODE\" >/var/log/dockerd.log 2>&1")
SETUP = (f"useradd --create-home --shell /bin/bash {USER} && "
         f"echo '{USER} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{USER} && "
         f"chmod 0440 /etc/sudoers.d/{USER} && python3 -m venv {VENV} && "
         f"{VENV}/bin/pip install --quiet --no-index --find-links /tmp/wheels -r /tmp/wheels/want"
         " && rm -rf /tmp/wheels")


def dependencies() -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def recipe_hash() -> str:
    plugin = hashlib.sha256(COMPOSE_PLUGIN.read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps([MMDEBSTRAP, START, SETUP, plugin, dependencies()])
                          .encode()).hexdigest()[:16]


def host_image() -> str:
    """Built once per recipe (a label on the image), then kept."""
    wanted = recipe_hash()
    found = docker("image", "inspect", "--format",
                   f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', IMAGE, check=False)
    if found.strip() == wanted:
        return IMAGE
    base = _base_image()
    builder = f"t4t-sshimage-{os.getpid()}"
    try:
        docker("run", "-d", "--name", builder, "--label",
               f"com.docker.compose.project={builder}", base, "sleep", "infinity")
        version = docker("exec", builder, "python3", "-c",
                         "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"
                         ).strip()
        with tempfile.TemporaryDirectory() as wheels:
            _download_wheels(Path(wheels), version)
            docker("cp", f"{wheels}/.", f"{builder}:/tmp/wheels")
        docker("exec", builder, "mkdir", "-p", str(Path(PLUGIN_IN_IMAGE).parent))
        docker("cp", str(COMPOSE_PLUGIN), f"{builder}:{PLUGIN_IN_IMAGE}")
        docker("exec", builder, "sh", "-c", SETUP)
        docker("commit", "--change", f"LABEL {RECIPE_LABEL}={wanted}",
               "--change", f'CMD ["tini", "--", "sh", "-c", {json.dumps(START)}]',
               builder, IMAGE)
    finally:
        docker("rm", "-f", builder, check=False)
    return IMAGE


def _base_image() -> str:
    """The packages alone (the slow part: mmdebstrap), kept by their own recipe."""
    wanted = hashlib.sha256(json.dumps(MMDEBSTRAP).encode()).hexdigest()[:16]
    found = docker("image", "inspect", "--format",
                   f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', BASE_IMAGE, check=False)
    if found.strip() != wanted:
        with tempfile.TemporaryDirectory() as folder:
            tarball = Path(folder) / "host.tar"
            subprocess.run([*MMDEBSTRAP, str(tarball)], check=True, capture_output=True)
            docker("import", "--change", f"LABEL {RECIPE_LABEL}={wanted}", str(tarball),
                   BASE_IMAGE)
    return BASE_IMAGE


def _download_wheels(folder: Path, python: str) -> None:
    """tr4ctl's dependencies as wheels for the image's Python (pip's own client, through
    this machine's configured index)."""
    tag = python.replace(".", "")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(folder),
         "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
         "--abi", f"cp{tag}", "--abi", "abi3", "--abi", "none",
         "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
         "--platform", "manylinux2014_x86_64", "--platform", "any", *dependencies()],
        check=True, capture_output=True)
    (folder / "want").write_text("\n".join(dependencies()) + "\n")


def tr4ctl_wheel(folder: Path) -> Path:
    """This working tree as a wheel (the version the workstation runs)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(folder), str(REPO)], check=True, capture_output=True)
    return next(folder.glob("tr4ctl-*.whl"))


class _Quiet:
    def detail(self, message: str) -> None:
        pass


def file_modes(folder: str, on: SshHost | None = None) -> dict[str, str]:
    """{"./path": "600"} for everything under folder, on this machine or on a host."""
    argv = ("sh", "-c", "cd \"$1\" && find . -exec stat -c '%a %n' {} +", "sh", folder)
    listing = on.exec(*argv) if on else subprocess.run(argv, capture_output=True, text=True,
                                                       check=True).stdout
    return {line.split(" ", 1)[1]: line.split(" ", 1)[0]
            for line in listing.splitlines() if line}


def local_init_modes(folder: Path, name: str) -> dict[str, str]:
    """The modes the local path gives: `tr4ctl init` in folder on this machine (its
    volumes and network removed again)."""
    local = Stack(name, folder, 1, 2)
    subprocess.run(local.argv("init"), check=True, capture_output=True, env=own_environment())
    try:
        return file_modes(str(folder))
    finally:
        subprocess.run(local.argv("down", "--volumes", "--yes"), capture_output=True,
                       env=own_environment())


class ArgvSampler(threading.Thread):
    """`ps -eo args` on this machine and on the host, every `every` s, until stop()."""

    def __init__(self, host: SshHost, every: float = 0.5):
        super().__init__(daemon=True)
        self.host, self.every = host, every
        self.samples: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append(subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                               text=True).stdout)
            self.samples.append(self.host.exec("ps", "-eo", "args", check=False) or "")
            time.sleep(self.every)

    def stop(self) -> list[str]:
        self.halt.set()
        self.join(timeout=30)
        return self.samples


def env_secrets(host: SshHost, project_dir: str) -> list[str]:
    """The secret values of the project's .env on the host."""
    env = host.exec("cat", f"{project_dir}/.env")
    return [m.group(2).strip("'\"") for m in re.finditer(
        r"^(JWT_SECRET_KEY|TR4CTL_DATABASE_PASSWORD)=(.+)$", env, re.MULTILINE)]


class SshHost(HostResources):
    """One SSH host: `start()` it, reach it as `address`; `remove()` takes everything."""

    def __init__(self, name: str, folder: Path):
        super().__init__(name, folder)
        self.ip: str | None = None

    @property
    def address(self) -> str:
        return f"ssh://{USER}@{self.ip}"

    def ssh_environment(self) -> dict[str, str]:
        """How tr4ctl reaches the host: the test's key and known_hosts."""
        return {"TR4CTL_SSH_KEY": str(self.key), "TR4CTL_SSH_KNOWN_HOSTS": str(self.known_hosts)}

    def workstation_environment(self, project_dir: str) -> dict[str, str]:
        return {"TR4CTL_HOST": self.address, "TR4CTL_HOST_DIR": project_dir,
                **self.ssh_environment()}

    def start(self, *, with_tr4ctl: bool = True, aliases: tuple[str, ...] = ()) -> SshHost:
        """with_tr4ctl=False: a Docker host alone (no wheel built or installed); aliases:
        names the test network's DNS gives the host (a domain an ACME server validates)."""
        image = host_image()
        self.folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.name,
                        "-f", str(self.key)], check=True, capture_output=True)
        self.key.chmod(0o600)
        self.known_hosts.touch(mode=0o600)
        docker("network", "create", "--label", f"com.docker.compose.project={self.name}",
               self.network)
        docker(*engine_run_argv(self.name, self.network),
               *(arg for alias in aliases for arg in ("--network-alias", alias)),
               "-v", f"{self.data_volume}:/var/lib/docker", "-e", f"NODE={self.name}", image)
        self.ip = docker("inspect", "--format",
                         f'{{{{(index .NetworkSettings.Networks "{self.network}").IPAddress}}}}',
                         self.name).strip()
        public = Path(f"{self.key}.pub").read_bytes()
        self.exec("sh", "-c", f"install -d -m 700 -o {USER} -g {USER} /home/{USER}/.ssh && "
                  f"cat > /home/{USER}/.ssh/authorized_keys && "
                  f"chown {USER}: /home/{USER}/.ssh/authorized_keys && "
                  f"chmod 600 /home/{USER}/.ssh/authorized_keys", input=public)
        if with_tr4ctl:
            with tempfile.TemporaryDirectory() as folder:
                wheel = tr4ctl_wheel(Path(folder))
                docker("cp", str(wheel), f"{self.name}:/tmp/{wheel.name}")
            self.exec(f"{VENV}/bin/pip", "install", "--quiet", "--no-deps", "--no-index",
                      f"/tmp/{wheel.name}")
        wait_for(lambda: self.exec("docker", "info", check=False) is not None,
                 "the host's engine", 90)
        return self

    def exec(self, *argv: str, input: bytes | None = None, check: bool = True) -> str | None:
        """A command in the host as root (the test's own view, not the workstation's)."""
        result = subprocess.run(["docker", "exec", "-i", self.name, *argv], input=input,
                                capture_output=True)
        if result.returncode != 0:
            if check:
                raise AssertionError(f"{' '.join(argv)} on {self.name}: "
                                     f"{result.stderr.decode(errors='replace')}")
            return None
        return result.stdout.decode(errors="replace")

    def docker(self, *args: str, check: bool = True) -> str | None:
        """The host's own docker CLI as root (docker exec: not over SSH)."""
        return self.exec("docker", *args, check=check)

    def host_keys(self) -> str:
        """The host's public keys as known_hosts lines (what --accept-host-key records)."""
        return self.exec("sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub")

    def trust(self) -> None:
        """known_hosts as after a first accepted contact (for tests about something else)."""
        lines = [f"{self.ip} {line}" for line in self.host_keys().splitlines() if line]
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def ssh_argv(self, *remote: str) -> list[str]:
        """Plain ssh to the host with the test's key and known_hosts (no master)."""
        return ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "IdentitiesOnly=yes",
                "-i", str(self.key), f"{USER}@{self.ip}", *remote]

    def load(self, *images: str) -> None:
        """`docker save | docker exec -i NODE docker load`: no registry."""
        saved = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "exec", "-i", self.name, "docker", "load"],
                                stdin=saved.stdout, capture_output=True)
        saved.wait()
        assert saved.returncode == 0 and loaded.returncode == 0, loaded.stderr

    def close_master(self) -> None:
        """End the shared connection, so the next command connects (and checks keys) anew."""
        from tr4ctl.plan.ssh_target import parse_target
        from tr4ctl.remote.commands import SshOptions
        from tr4ctl.remote.connection import SshConnection, private_control_dir

        options = SshOptions(control_dir=private_control_dir(), key=self.key,
                             known_hosts=self.known_hosts)
        SshConnection(parse_target(self.address), options, _Quiet()).close()

    def remove(self) -> None:
        self.remove_resources()


ROLE_KEYS = (("TR4CTL_NGINX_IMAGE", "nginx"), ("TR4CTL_CHROMA_IMAGE", "chroma"),
             ("TR4CTL_CERTBOT_IMAGE", "certbot"), ("TR4CTL_BACKEND_BASE_IMAGE", "backend base"),
             ("TR4CTL_BACKEND_IMAGE", "backend"))


def stack_images(images_list: dict, environment: dict[str, str]) -> tuple[list[str],
                                                                           dict[str, str]]:
    """The images `tr4ctl --json images list` names, on this machine (the backend built
    when missing: the host reaches no package index), and the settings naming them for
    the host's project (the backend's tag is this checkout's, set explicitly)."""
    images = {i["role"]: i for i in images_list["data"]["images"]}
    build_missing_backend(images, environment)
    settings = {key: images[role]["image"] for key, role in ROLE_KEYS if role in images}
    return [i["image"] for i in images.values()], settings
