"""An SSH destination as operators write it: ssh://[user@]host[:port]. Pure: parsing and
the words shown in messages; nothing here opens a connection (remote/ssh.py does)."""

from __future__ import annotations

import re
from collections import namedtuple
from urllib.parse import urlsplit

# A host name (RFC 1123 labels) or an IPv4 address; IPv6 in brackets.
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
EXAMPLE = "ssh://ubuntu@host.example:22"


class SshTarget(namedtuple("SshTarget", "host user port", defaults=(None, None))):
    """host; user and port when given (a named tuple: on a forwarded command's start,
    see plan/remote_call.py)."""
    __slots__ = ()

    @property
    def destination(self) -> str:
        """What ssh(1) takes as its destination argument."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{host}{port}"

    @property
    def known_hosts_name(self) -> str:
        """How known_hosts names the host: `[host]:port` off port 22."""
        return f"[{self.host}]:{self.port}" if self.port not in (None, 22) else self.host

    @property
    def needs_sudo(self) -> bool:
        """Root logs in as root; anyone else runs tr4ctl and docker through sudo."""
        return self.user not in (None, "root")


def target_problem(value: str) -> str | None:
    """Why `value` is no ssh://[user@]host[:port] address, or None."""
    if not value.startswith("ssh://"):
        return f"{value!r} is not an ssh:// address (write it as {EXAMPLE})"
    if any(c.isspace() or ord(c) < 32 for c in value):
        return f"{value!r} holds a space or a control character"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"{value!r}: {exc}"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{value!r} has a path or query; only ssh://[user@]host[:port] is taken"
    if parts.password is not None:
        return "an ssh:// address never carries a password: use a key (TR4CTL_SSH_KEY or the agent)"
    host = parts.hostname or ""
    if not host:
        return f"{value!r} names no host"
    if ":" not in host and not _HOST_NAME.match(host):
        return f"{host!r} is not a host name or address"
    if host.startswith("-"):
        return f"{host!r} is not a host name"
    if parts.username is not None and not _USER.match(parts.username):
        return f"{parts.username!r} is not a user name"
    if port == 0:
        return "port 0 is not a port"
    return None


def parse_target(value: str) -> SshTarget:
    """An SshTarget; ValueError naming the problem (see target_problem)."""
    problem = target_problem(value)
    if problem:
        raise ValueError(problem)
    parts = urlsplit(value)
    return SshTarget(host=parts.hostname or "", user=parts.username, port=parts.port)
