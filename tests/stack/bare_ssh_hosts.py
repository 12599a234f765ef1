"""A fresh host of the test's own reached over SSH: Debian 13 (trixie) from Debian's
packages (mmdebstrap minbase) with OpenSSH's server, sudo and python3, and NO Docker (a
fresh EC2 Ubuntu has as much), run with what dockerd needs in a container
(../shared/docs/docker-here.md §5), on a network the test makes. Users: `ubuntu` with
NOPASSWD sudo, `plain` without sudo; both log in with a key the test generates. Its host
keys are made when it starts: each host is a first contact.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from conftest import docker, own_environment, wait_for
from ssh_host_base import HostResources
from test_fresh_host import (
    CA_IN_IMAGE,
    HOST_CA_BUNDLE,
    host_apt_options,
    image_by_recipe,
    remove_cgroups,
)

from tr4ctl.plan.ssh_target import parse_target
from tr4ctl.remote.commands import SshOptions, ssh_exit_master
from tr4ctl.remote.connection import private_control_dir

IMAGE = "tr4ctl-test/ssh-host:trixie"
PACKAGES = "openssh-server,sudo,python3,ca-certificates"
START = "#!/bin/sh\nssh-keygen -A >/dev/null\nmkdir -p /run/sshd\nexec /usr/sbin/sshd -D -e\n"
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HOOKS = [
    'mkdir -p "$1/usr/local/share/ca-certificates"',
    f'cp {HOST_CA_BUNDLE} "$1{CA_IN_IMAGE}"',
    'chroot "$1" update-ca-certificates >/dev/null',
    # The host's own pip settings: its CAs (dependencies come from PyPI through them).
    f'printf "[global]\\ncert = {BUNDLE}\\n" > "$1/etc/pip.conf"',
    'chroot "$1" useradd -m -s /bin/bash ubuntu',
    'echo "ubuntu ALL=(ALL) NOPASSWD:ALL" > "$1/etc/sudoers.d/ubuntu"',
    'chmod 0440 "$1/etc/sudoers.d/ubuntu"',
    'chroot "$1" useradd -m -s /bin/bash plain',
    'rm -f "$1"/etc/ssh/ssh_host_*',
    f'printf {START!r} > "$1/usr/local/sbin/start-host"',
    'chmod 0755 "$1/usr/local/sbin/start-host"',
]
USERS = ("ubuntu", "plain")


def ssh_host_image() -> str:
    options = host_apt_options()
    recipe = {"suite": "trixie", "apt": options, "packages": PACKAGES, "hooks": HOOKS,
              "ca": hashlib.sha256(HOST_CA_BUNDLE.read_bytes()).hexdigest()}
    return image_by_recipe(IMAGE, recipe, [
        "mmdebstrap", "--variant=minbase", "--quiet",
        *(f"--aptopt={option}" for option in options), f"--include={PACKAGES}",
        *(f"--customize-hook={hook}" for hook in HOOKS), "trixie"],
        ["/usr/local/sbin/start-host"])


class SshHost(HostResources):
    """A fresh host (ssh_host_base.py: its names, key pair and known_hosts)."""

    def __init__(self, name: str, folder: Path):
        super().__init__(name, folder)
        self.address = ""

    def start(self) -> SshHost:
        image = ssh_host_image()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.name,
                        "-f", str(self.key)], check=True)
        docker("network", "create", "--label", f"com.docker.compose.project={self.name}",
               self.network)
        docker("run", "-d", "--name", self.name, "--hostname", "fresh-host",
               "--network", self.network,
               "--label", f"com.docker.compose.project={self.name}",
               "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
               "--cap-add", "SYS_PTRACE",
               "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
               "--tmpfs", "/run", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
               "-v", f"{self.data_volume}:/var/lib/docker", image)
        public = (self.key.with_suffix(".pub")).read_bytes()
        for user in USERS:
            self.exec_sh(f"install -d -m 0700 -o {user} -g {user} /home/{user}/.ssh && "
                         f"cat > /home/{user}/.ssh/authorized_keys && "
                         f"chown {user}: /home/{user}/.ssh/authorized_keys && "
                         f"chmod 0600 /home/{user}/.ssh/authorized_keys", input=public)
        # The inner engine's containers in cgroups of their own (the operator's config).
        self.exec_sh("mkdir -p /etc/docker && cat > /etc/docker/daemon.json",
                     input=json.dumps({"cgroup-parent": self.name}).encode())
        self.address = docker("inspect", "--format",
                              "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                              self.name).strip()
        wait_for(lambda: b"ssh-ed25519" in subprocess.run(
            ["ssh-keyscan", "-T", "2", "-t", "ed25519", self.address],
            capture_output=True).stdout, "the host's sshd", 30)
        return self

    def target(self, user: str = "ubuntu") -> str:
        return f"ssh://{user}@{self.address}:22"

    def exec_sh(self, script: str, *, input: bytes | None = None,
                check: bool = True) -> str | None:
        done = subprocess.run(["docker", "exec", "-i", self.name, "sh", "-c", script],
                              input=input, capture_output=True)
        if done.returncode != 0:
            if check:
                raise AssertionError(f"{script} on {self.name}: {done.stderr.decode()}")
            return None
        return done.stdout.decode()

    def host_key_fingerprint(self) -> str:
        line = self.exec_sh("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
        return line.split()[1]  # SHA256:...

    def tr4ctl(self, *args: str, known_hosts: Path | None = None,
               timeout: float = 1800) -> subprocess.CompletedProcess:
        """The workstation's tr4ctl with this host's key and known_hosts file."""
        return subprocess.run(
            [sys.executable, "-m", "tr4ctl", *args, "-i", str(self.key),
             "--known-hosts", str(known_hosts or self.known_hosts)],
            capture_output=True, text=True, timeout=timeout, env=own_environment())

    def close_connections(self) -> None:
        """End tr4ctl's shared connections to this host (they outlive each command): one
        per user and known_hosts file the tests used (the connection's path names both)."""
        for user in USERS:
            for known in {self.known_hosts, *self.folder.glob("*known_hosts*")}:
                options = SshOptions(private_control_dir(), key=self.key, known_hosts=known)
                subprocess.run(ssh_exit_master(parse_target(self.target(user)), options),
                               capture_output=True)

    def remove(self) -> None:
        # The shared connections end with their peer; close them first all the same.
        self.close_connections()
        self.remove_resources()
        remove_cgroups(self.name)

