"""The workstation's four settings (README "Remote hosts"): their names, rules and
defaults, readable without the rest of config/. A forwarded command starts with these
and nothing else: config.keys' hundred keys, dataclasses and python-dotenv cost a
forwarded `status` more than the target allows (bench/results/*-remote-*.json)."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

HOST, HOST_DIR, SSH_KEY, KNOWN_HOSTS = ("TR4CTL_HOST", "TR4CTL_HOST_DIR", "TR4CTL_SSH_KEY",
                                        "TR4CTL_SSH_KNOWN_HOSTS")
# Set on this machine for this machine: `config set` of these never goes to the host.
WORKSTATION_KEYS = (HOST, HOST_DIR, SSH_KEY, KNOWN_HOSTS)
DEFAULT_HOST_DIR = "/srv/tr4ction"


def path(value: str) -> Path:
    if not value.strip():
        raise ValueError("must be a path")
    return Path(value).expanduser()


def ssh_address(value: str) -> str:
    from tr4ctl.plan.ssh_target import target_problem

    if problem := target_problem(value.strip()):
        raise ValueError(problem)
    return value.strip()


def host_path_problem(path: str) -> str | None:
    """Why `path` cannot be a project folder on another machine (never resolved here)."""
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path (say /srv/tr4ction)"
    if any(c.isspace() or ord(c) < 32 for c in path):
        return f"{path!r} holds a space or a control character"
    if posixpath.normpath(path) != path.rstrip("/") or posixpath.normpath(path) == "/":
        return f"{path!r} is not a plain folder path (say /srv/tr4ction)"
    return None


def host_path(value: str) -> str:
    problem = host_path_problem(value)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/")


# Each key's rule and default, here once: config/keys.py's Keys and remote/settings.py
# read them from these two.
PARSERS = {HOST: ssh_address, HOST_DIR: host_path, SSH_KEY: path, KNOWN_HOSTS: path}
DEFAULTS = {HOST: None, HOST_DIR: DEFAULT_HOST_DIR, SSH_KEY: None, KNOWN_HOSTS: None}


# A .env with none of these characters or words has no quoting, escape, expansion or
# `export` for python-dotenv to read: each KEY=VALUE line means what it says. Any other
# .env is read by python-dotenv (config/load.py), the one parser of the settings.
_NOT_PLAIN = re.compile(r"""['"\\$]|^\s*export\s""", re.MULTILINE)
_PLAIN_LINE = re.compile(r"^(TR4CTL_[A-Z0-9_]+)=([^\s#]*)(?:[ \t]+#.*|[ \t]*)$")


def plain_env_values(text: str) -> dict[str, str] | None:
    """The workstation keys' values in a plain .env (see _NOT_PLAIN), or None: this
    text needs python-dotenv. A line naming one of them in any other form is None too."""
    if _NOT_PLAIN.search(text):
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not any(name in line for name in WORKSTATION_KEYS):
            continue
        match = _PLAIN_LINE.match(line)
        if match is None:
            if line.lstrip().startswith("#"):
                continue
            return None
        if match.group(1) in WORKSTATION_KEYS:
            values[match.group(1)] = match.group(2)
    return values
