"""An SSH destination as operators write it: ssh://[user@]host[:port]. Pure: parsing and
the words shown in messages; nothing here opens a connection (remote/ssh.py does)."""

from __future__ import annotations

from collections import namedtuple

# Checked with str methods, not re: a forwarded command's start imports no re (see
# cli/launch.py); tests/unit/test_ssh_target.py holds them against the regexes.
_DIGITS = "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_LABEL = frozenset(_LOWER + _LOWER.upper() + _DIGITS + "-")
_USER_START = frozenset(_LOWER + "_")
_USER_REST = frozenset(_LOWER + _DIGITS + "_.-")
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


def is_host_name(host: str) -> bool:
    """A host name of RFC 1123 labels (an IPv4 address is one too)."""
    return 1 <= len(host) <= 253 and all(
        1 <= len(label) <= 63 and label[0] != "-" and label[-1] != "-"
        and all(c in _LABEL for c in label) for label in host.split("."))


def is_user_name(user: str) -> bool:
    """A login name as useradd takes it by default: [a-z_][a-z0-9_.-]{0,31}."""
    return (1 <= len(user) <= 32 and user[0] in _USER_START
            and all(c in _USER_REST for c in user))


_BRACKETS = "an IPv6 address goes alone in brackets: ssh://ubuntu@[2001:db8::7]:22"


def _split(value: str) -> tuple[str | None, str | None, str, int | None]:
    """(user, password, host, port) of an ssh://... string, read the way urlsplit reads
    them (its username, password, hostname and port), or ValueError. Not urlsplit
    itself: urllib.parse costs a forwarded command's start about 4 ms, a tenth of what
    the target leaves tr4ctl (README "Remote hosts"); tests/unit/test_ssh_target.py
    holds the two readings side by side. Stricter in two places: a netloc outside
    ASCII, and anything between `]` and the port."""
    rest = value[len("ssh://"):]
    cut = min([i for i in (rest.find(c) for c in "/?#") if i >= 0], default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    if tail not in ("", "/"):
        raise ValueError("has a path or query; only ssh://[user@]host[:port] is taken")
    if not netloc.isascii():
        raise ValueError("holds a character outside ASCII (a host name goes in its xn-- "
                         "form)")
    userinfo, at, hostinfo = netloc.rpartition("@")
    user = password = None
    if at:
        user, colon, password = userinfo.partition(":")
        password = password if colon else None
    if hostinfo.startswith("["):
        host, closed, after = hostinfo[1:].partition("]")
        if not closed or "[" in host or "]" in after or (after and after[0] != ":"):
            raise ValueError(_BRACKETS)
        import ipaddress  # only for a bracketed address

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None
        port_text = after[1:]
    else:
        if "[" in hostinfo or "]" in hostinfo:
            raise ValueError(_BRACKETS)
        host, _, port_text = hostinfo.partition(":")
    port = None
    if port_text:
        if not (port_text.isdigit() and port_text.isascii()):
            raise ValueError(f"the port {port_text!r} is not a number")
        port = int(port_text)
        if port > 65535:
            raise ValueError(f"the port {port} is out of range (1-65535)")
    name, percent, zone = host.partition("%")  # an IPv6 zone keeps its case
    return user, password, name.lower() + percent + zone, port


def target_problem(value: str) -> str | None:
    """Why `value` is no ssh://[user@]host[:port] address, or None."""
    if not value.startswith("ssh://"):
        return f"{value!r} is not an ssh:// address (write it as {EXAMPLE})"
    if any(c.isspace() or ord(c) < 32 for c in value):
        return f"{value!r} holds a space or a control character"
    try:
        user, password, host, port = _split(value)
    except ValueError as exc:
        return f"{value!r}: {exc}"
    if password is not None:
        return "an ssh:// address never carries a password: use a key (TR4CTL_SSH_KEY or the agent)"
    if not host:
        return f"{value!r} names no host"
    if ":" not in host and not is_host_name(host):
        return f"{host!r} is not a host name or address"
    if host.startswith("-"):
        return f"{host!r} is not a host name"
    if user is not None and not is_user_name(user):
        return f"{user!r} is not a user name"
    if port == 0:
        return "port 0 is not a port"
    return None


def parse_target(value: str) -> SshTarget:
    """An SshTarget; ValueError naming the problem (see target_problem)."""
    problem = target_problem(value)
    if problem:
        raise ValueError(problem)
    user, _, host, port = _split(value)
    return SshTarget(host=host, user=user, port=port)
