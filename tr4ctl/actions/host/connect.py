"""Reaching a host for the `host` commands: the ssh options from the flags and the
environment (TR4CTL_SSH_KEY, TR4CTL_SSH_KNOWN_HOSTS), the host's address from the argument
or TR4CTL_HOST, and sudo checked before anything else is asked of it."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tr4ctl.errors import BadInput, MissingPrerequisite
from tr4ctl.output import Output
from tr4ctl.plan.ssh_target import EXAMPLE, SshTarget, parse_target
from tr4ctl.remote import host_keys
from tr4ctl.remote.commands import DEFAULT_HOST_DIR, SshOptions
from tr4ctl.remote.connection import SshConnection, private_control_dir

HOST_KEY = "TR4CTL_HOST"
HOST_DIR_KEY = "TR4CTL_HOST_DIR"
SSH_KEY = "TR4CTL_SSH_KEY"
KNOWN_HOSTS_KEY = "TR4CTL_SSH_KNOWN_HOSTS"
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


def target_from(value: str | None) -> SshTarget:
    value = value or os.environ.get(HOST_KEY)
    if not value:
        raise BadInput("no host given", f"pass it ({EXAMPLE}) or set {HOST_KEY}")
    try:
        return parse_target(value)
    except ValueError as exc:
        raise BadInput(str(exc), f"write the host as {EXAMPLE}") from None


def host_dir_from_environment() -> str:
    from tr4ctl.plan.host_bootstrap import host_dir_problem

    value = os.environ.get(HOST_DIR_KEY) or DEFAULT_HOST_DIR
    problem = host_dir_problem(value)
    if problem:
        raise BadInput(problem, f"set {HOST_DIR_KEY} to an absolute folder, or unset it")
    return value.rstrip("/")


def ssh_options(identity: Path | None, known_hosts: Path | None, *,
                accept_host_key: bool) -> SshOptions:
    """-i / --known-hosts win over TR4CTL_SSH_KEY / TR4CTL_SSH_KNOWN_HOSTS."""
    key = identity or _path_setting(SSH_KEY)
    known = known_hosts or _path_setting(KNOWN_HOSTS_KEY)
    if key is not None and not key.is_file():
        raise BadInput(f"no SSH key at {key}", f"pass -i with a private key file, or set {SSH_KEY}")
    if known is not None and not known.parent.is_dir():
        raise BadInput(f"no folder for the known_hosts file {known}",
                       f"pass --known-hosts in an existing folder, or set {KNOWN_HOSTS_KEY}")
    return SshOptions(control_dir=private_control_dir(), key=key, known_hosts=known,
                      accept_new_host_key=accept_host_key)


def _path_setting(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


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
