"""Reaching a host for the `host` commands (the address and ssh options come from
remote/settings.py): the host key, the login, and sudo checked before anything else is
asked of it."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

from tr4ctl.errors import MissingPrerequisite
from tr4ctl.output import Output
from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote import host_keys
from tr4ctl.remote.commands import SshOptions
from tr4ctl.remote.connection import SshConnection

# What the host runs of scripts/ (host_packages.py is the one rule for package names).
HOST_SCRIPTS = ("host_packages.py", "host-common.sh", "provision-docker.sh")
# Run as root on the host: unpack the scripts (a tar on stdin) in a folder removed after,
# then run $1 from there with the other arguments (stdin closed: dockerd may be started).
RUN_SHIPPED = r"""
set -eu
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
tar -x -f - -C "$d"
script=$1; shift
bash "$d/$script" "$@" </dev/null
"""


@dataclass(frozen=True)
class Reached:
    connection: SshConnection
    accepted: bool  # this contact recorded the host's key in known_hosts
    detail: str


def reach(target: SshTarget, options: SshOptions, out: Output) -> Reached:
    """The connection, checked: the host key (a first contact refused without the accept
    flag, showing the fingerprints), the login, and sudo -n."""
    known_before = host_keys.is_known(target, options)
    connection = SshConnection(target, options, out)
    connection.run(["true"], sudo=False)  # a first contact: UnknownHostKey, fingerprints shown
    if target.needs_sudo:
        done = connection.run(["true"], sudo=True, check=False)
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise MissingPrerequisite(
                f"{target.user} on {target.host} cannot use sudo without a password"
                + (f": {reason[-1]}" if reason else ""),
                f"give {target.user} NOPASSWD sudo there (a line `{target.user} ALL=(ALL) "
                f"NOPASSWD:ALL` in /etc/sudoers.d/), or connect as root")
    how = "sudo -n works" if target.needs_sudo else "as root"
    if known_before:
        return Reached(connection, False, f"{target.destination}, host key known, {how}")
    shown = host_keys.fingerprints(target)
    return Reached(connection, True, f"{target.destination}, host key accepted "
                                     f"({', '.join(shown) or 'recorded in known_hosts'}), {how}")


def scripts_tar(extra: dict[str, str] | None = None) -> bytes:
    """The host scripts (from the wheel's assets or the checkout), plus `extra` ones."""
    from tr4ctl.assets import asset_dir

    folder = asset_dir("scripts")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in HOST_SCRIPTS:
            _add(archive, name, (folder / name).read_bytes())
        for name, text in (extra or {}).items():
            _add(archive, name, text.encode())
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o755 if name.endswith((".sh", ".py")) else 0o644
    archive.addfile(info, io.BytesIO(data))


def host_packages():
    """scripts/host_packages.py as a module: the package choices, read here, the same
    file the host runs."""
    import importlib.util
    import sys

    from tr4ctl.assets import asset_dir

    name = "tr4ctl_host_packages"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, asset_dir("scripts") / "host_packages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module
