"""What every SSH host of the tests has, whatever runs in it (bare_ssh_hosts.py: a fresh
Debian without Docker; ssh_engine_hosts.py: OpenSSH beside a Docker engine): its names,
the key pair and known_hosts file of the test's own, and their removal."""

from __future__ import annotations

from pathlib import Path

from conftest import docker


class HostResources:
    """The container, its network and its Docker data volume, named `name`; the key pair
    and a known_hosts file of the test's own in `folder`."""

    def __init__(self, name: str, folder: Path):
        self.name = name
        # t4t-<label>-<pid>_net: the leftover sweep reads the pid before the "_".
        self.network = f"{name}_net"
        self.data_volume = f"{name}_data"
        self.folder = folder
        self.key = folder / "id_ed25519"
        self.known_hosts = folder / "known_hosts"

    def remove_resources(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)
        docker("volume", "rm", self.data_volume, check=False)
        docker("network", "rm", self.network, check=False)
