"""The workstation's four settings (README "Remote hosts"): their names, rules and
defaults, readable without the rest of config/. A forwarded command starts with these
and nothing else: config.keys' hundred keys, dataclasses and python-dotenv cost a
forwarded `status` more than the target allows (bench/results/*-remote-*.json)."""

from __future__ import annotations

import os.path
import posixpath

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path

HOST, HOST_DIR, SSH_KEY, KNOWN_HOSTS = ("TR4CTL_HOST", "TR4CTL_HOST_DIR", "TR4CTL_SSH_KEY",
                                        "TR4CTL_SSH_KNOWN_HOSTS")
# Set on this machine for this machine: `config set` of these never goes to the host.
WORKSTATION_KEYS = (HOST, HOST_DIR, SSH_KEY, KNOWN_HOSTS)
DEFAULT_HOST_DIR = "/srv/tr4ction"


def local_path(value: str) -> str:
    """A path on this machine, ~ expanded (a str: a forwarded command's start never
    imports pathlib)."""
    if not value.strip():
        raise ValueError("must be a path")
    return os.path.expanduser(value)


def path(value: str) -> Path:
    """local_path as a Path, for the settings of the full configuration."""
    from pathlib import Path

    return Path(local_path(value))


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
PARSERS = {HOST: ssh_address, HOST_DIR: host_path, SSH_KEY: local_path,
           KNOWN_HOSTS: local_path}
DEFAULTS = {HOST: None, HOST_DIR: DEFAULT_HOST_DIR, SSH_KEY: None, KNOWN_HOSTS: None}


# A .env with none of the characters '"\\$ and no `export` line has no quoting, escape,
# expansion or export for python-dotenv to read: each KEY=VALUE line means what it says.
# Any other .env is read by python-dotenv (config/load.py), the one parser of the
# settings. Read with str methods, not re: a forwarded command's start imports no re
# (cli/launch.py); tests/unit/test_workstation_env.py holds them against the regexes.
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _needs_dotenv(text: str) -> bool:
    """A quote, backslash or $ anywhere, or a line that starts (after blanks) with
    `export` and a blank."""
    if any(c in text for c in "'\"\\$"):
        return True
    start = 0
    while (at := text.find("export", start)) >= 0:
        before = text[text.rfind("\n", 0, at) + 1:at]
        if text[at + 6:at + 7].isspace() and (not before or before.isspace()):
            return True
        start = at + 1
    return False


def _plain_line(line: str) -> tuple[str, str] | None:
    """(KEY, value) of `TR4CTL_KEY=value`, optionally followed by blanks, or by blanks
    and a # comment; None for any other form."""
    key, equals, rest = line.partition("=")
    if not equals or not key.startswith("TR4CTL_") or len(key) == len("TR4CTL_") \
            or not all(c in _KEY_CHARS for c in key):
        return None
    end = 0
    while end < len(rest) and not rest[end].isspace() and rest[end] != "#":
        end += 1
    after = rest[end:]
    tail = after.lstrip(" \t")
    if tail and not (tail.startswith("#") and len(tail) < len(after)):
        return None
    return key, rest[:end]


def plain_env_values(text: str) -> dict[str, str] | None:
    """The workstation keys' values in a plain .env (see _needs_dotenv), or None: this
    text needs python-dotenv. A line naming one of them in any other form is None too."""
    if _needs_dotenv(text):
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not any(name in line for name in WORKSTATION_KEYS):
            continue
        pair = _plain_line(line)
        if pair is None:
            if line.lstrip().startswith("#"):
                continue
            return None
        if pair[0] in WORKSTATION_KEYS:
            values[pair[0]] = pair[1]
    return values
