"""The workstation's settings for reaching a host, read one way for every command that
uses them (the forwarding, `host bootstrap|check`, `images ship`, a swarm's nodes):
TR4CTL_HOST (or --host), TR4CTL_HOST_DIR, TR4CTL_SSH_KEY, TR4CTL_SSH_KNOWN_HOSTS, from
the environment, then the workstation project's .env, then the defaults."""

from __future__ import annotations

import os
import stat
from collections import namedtuple

from tr4ctl.config import workstation as keys
from tr4ctl.config.sources import ENV_FILE, ENVIRONMENT
from tr4ctl.errors import BadInput
from tr4ctl.plan.ssh_target import EXAMPLE, SshTarget, parse_target
from tr4ctl.remote.commands import SshOptions

# A workstation's .env holds these four keys: more than this is read the full way.
_PLAIN_LIMIT = 64 << 10


class Settings(namedtuple("Settings", "host host_dir ssh_key known_hosts")):
    """host: TR4CTL_HOST or None; host_dir; ssh_key, known_hosts: paths (str) or None."""
    __slots__ = ()

    def target(self, value: str | None = None) -> SshTarget:
        """`value` (an argument) or TR4CTL_HOST, parsed; refused when neither is given."""
        address = value or self.host
        if not address:
            raise BadInput("no host given", f"pass it ({EXAMPLE}) or set TR4CTL_HOST")
        try:
            return parse_target(address)
        except ValueError as exc:
            raise BadInput(str(exc), f"write the host as {EXAMPLE}") from None

    def ssh_options(self, *, accept_host_key: bool = False,
                    identity: str | os.PathLike | None = None,
                    known_hosts: str | os.PathLike | None = None) -> SshOptions:
        """-i / --known-hosts win over TR4CTL_SSH_KEY / TR4CTL_SSH_KNOWN_HOSTS."""
        from tr4ctl.remote.connection import private_control_dir

        key = identity or self.ssh_key
        if key is not None:
            require_private_key(key)
        known = known_hosts or self.known_hosts
        if known is not None:
            require_known_hosts_file(known)
        return SshOptions(control_dir=private_control_dir(), key=key, known_hosts=known,
                          accept_new_host_key=accept_host_key)


def read_workstation(folder: str | os.PathLike, host_option: str | None = None) -> Settings:
    env_file = os.path.join(folder, ".env")
    file = _env_values(env_file)
    values: dict[str, object] = {}
    for name in keys.WORKSTATION_KEYS:
        raw, source = (os.environ.get(name), ENVIRONMENT)
        if name == keys.HOST and host_option is not None:
            raw, source = host_option, "--host"
        if not raw:
            raw, source = file.get(name), ENV_FILE
        if not raw:
            values[name] = keys.DEFAULTS[name]
            continue
        try:
            values[name] = keys.PARSERS[name](raw)
        except ValueError as exc:
            from tr4ctl.config.load import where_to_fix

            hint = ("fix the --host value" if source == "--host"
                    else where_to_fix(name, source, env_file))
            raise BadInput(f"setting {name} is invalid (from {source}): {exc}", hint) from None
        if name in (keys.SSH_KEY, keys.KNOWN_HOSTS) and source == ENV_FILE:
            values[name] = os.path.join(folder, values[name])  # relative to the project
    key = values[keys.SSH_KEY]
    if key is not None and values[keys.HOST]:
        require_private_key(key)
    if values[keys.KNOWN_HOSTS] is not None and values[keys.HOST]:
        require_known_hosts_file(values[keys.KNOWN_HOSTS])
    return Settings(values[keys.HOST], values[keys.HOST_DIR], key, values[keys.KNOWN_HOSTS])


def _env_values(env_file: str) -> dict[str, str | None]:
    """The .env's values: a plain small file read here (config/workstation.py says when
    that is the same reading), any other by config/load.py; none for a missing file."""
    try:
        descriptor = os.open(env_file, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:  # a workstation set by the environment alone
        return {}
    except OSError:
        descriptor = None
    if descriptor is not None:
        try:
            info = os.fstat(descriptor)
            text = (os.read(descriptor, _PLAIN_LIMIT + 1).decode("utf-8", "replace")
                    if stat.S_ISREG(info.st_mode) else None)
        finally:
            os.close(descriptor)
        if text is not None and len(text) <= _PLAIN_LIMIT and "\ufffd" not in text:
            plain = keys.plain_env_values(text)
            if plain is not None:
                return plain
    from pathlib import Path

    from tr4ctl.config.load import EnvFile, read_env_file

    try:
        return read_env_file(Path(env_file)).values
    except OSError:  # no folder there: the local path names the problem, if no host is set
        return EnvFile(Path(env_file), {}, {}).values


def require_private_key(key: str | os.PathLike) -> None:
    try:
        info = os.stat(key)
    except OSError:
        raise BadInput(f"no SSH key at {key}",
                       "point TR4CTL_SSH_KEY (or -i) at a private key file") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"the SSH key {key} is not a file",
                       "point TR4CTL_SSH_KEY (or -i) at a private key file")
    if info.st_mode & 0o077:
        raise BadInput(f"the SSH key {key} is readable by others "
                       f"(mode {stat.S_IMODE(info.st_mode):04o})", f"chmod 600 {key}")


def require_known_hosts_file(file: str | os.PathLike) -> None:
    """A known_hosts file that is a regular file, or none yet in an existing folder (ssh
    adds an accepted key there). A FIFO would hang ssh and ssh-keygen on open; a folder
    would read as an empty file and show every host as new."""
    fix = "name a known_hosts file in an existing folder (--known-hosts or TR4CTL_SSH_KNOWN_HOSTS)"
    try:
        info = os.stat(file)
    except FileNotFoundError:
        if not os.path.isdir(os.path.dirname(os.fspath(file)) or "."):
            raise BadInput(f"no folder for the known_hosts file {file}", fix) from None
        return
    except OSError as exc:
        raise BadInput(f"the known_hosts file {file} cannot be read: {exc.strerror}", fix
                       ) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else \
            "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise BadInput(f"the known_hosts file {file} is {kind}", fix)
