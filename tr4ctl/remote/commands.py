"""Pure builders of the exact ssh argv tr4ctl runs (unit-tested as lists).

Every call to one host shares one OpenSSH master connection (ControlMaster/ControlPath,
kept ControlPersist seconds after the last use), so each step of a command, and the next
command, costs one round trip instead of a new handshake. Host keys are always checked:
StrictHostKeyChecking=yes, or accept-new only when the operator passed the accept flag
(a changed key is refused either way). BatchMode: ssh never prompts for a password.
"""

from __future__ import annotations

import zlib
from collections import namedtuple
from collections.abc import Mapping, Sequence

from tr4ctl.plan.ssh_target import SshTarget

# Where `host bootstrap` installs tr4ctl on a host, and the default project folder there.
REMOTE_VENV = "/opt/tr4ctl/venv"
REMOTE_TR4CTL = f"{REMOTE_VENV}/bin/tr4ctl"
CONTROL_PERSIST_SECONDS = 60
# A dead peer is noticed within about 15 s (3 unanswered keep-alives 5 s apart).
ALIVE_INTERVAL = 5
ALIVE_COUNT = 3


class SshOptions(namedtuple("SshOptions", "control_dir key known_hosts accept_new_host_key "
                            "connect_timeout", defaults=(None, None, False, 10))):
    """control_dir: a private (0700) folder for the master connections' sockets; key:
    TR4CTL_SSH_KEY / -i (None: the agent and ssh's defaults); known_hosts: None for ssh's
    own (~/.ssh/known_hosts). A named tuple: see plan/remote_call.py."""
    __slots__ = ()


def trust_digest(options: SshOptions) -> str:
    """A master connection is reused only by calls that trust the same way: %C covers the
    host, port and user, not the known_hosts file or the key, so a call with another
    known_hosts (or key) opens its own connection and has the host key checked again.
    A checksum is enough: the folder is this user's own and so are the names in it
    (hashlib would load OpenSSL, 4 ms of a forwarded command's start)."""
    trusted = f"{options.known_hosts or ''}\0{options.key or ''}"
    return f"{zlib.crc32(trusted.encode()):08x}"


def ssh_base(target: SshTarget, options: SshOptions) -> list[str]:
    """ssh and every option, up to and including the destination."""
    argv = [
        "ssh",
        "-o", "BatchMode=yes",
        "-o", f"StrictHostKeyChecking={'accept-new' if options.accept_new_host_key else 'yes'}",
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={options.control_dir}/{trust_digest(options)}-%C",
        "-o", f"ControlPersist={CONTROL_PERSIST_SECONDS}",
        "-o", f"ConnectTimeout={options.connect_timeout}",
        "-o", f"ServerAliveInterval={ALIVE_INTERVAL}",
        "-o", f"ServerAliveCountMax={ALIVE_COUNT}",
    ]
    if options.known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={options.known_hosts}"]
    if options.key is not None:
        argv += ["-o", "IdentitiesOnly=yes", "-i", str(options.key)]
    if target.port:
        argv += ["-p", str(target.port)]
    return [*argv, target.destination]


# shlex.quote's safe characters: shlex imports re, which a forwarded command's start
# does not (cli/launch.py); tests/unit/test_remote_call.py holds the two side by side.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def quote(word: str) -> str:
    """shlex.quote(word)."""
    if not word:
        return "''"
    if all(c in _SAFE for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def join(words: Sequence[str]) -> str:
    """shlex.join(words)."""
    return " ".join(quote(word) for word in words)


def remote_command(argv: Sequence[str], *, sudo: bool,
                   environment: Mapping[str, str] | None = None) -> str:
    """The one string the remote shell runs: `[sudo -n] [env K=V ...] argv...`, each word
    quoted. Never put a secret here: it is on the host's process list (secrets cross on
    stdin)."""
    words: list[str] = ["sudo", "-n"] if sudo else []
    if environment:
        words += ["env", *(f"{k}={v}" for k, v in environment.items())]
    return join([*words, *argv])


def ssh_run(target: SshTarget, options: SshOptions, argv: Sequence[str], *,
            sudo: bool | None = None, tty: bool = False,
            environment: Mapping[str, str] | None = None) -> list[str]:
    """The full local argv running `argv` on the host (sudo when the user is not root)."""
    use_sudo = target.needs_sudo if sudo is None else sudo
    base = ssh_base(target, options)
    return [*base[:-1], "-tt" if tty else "-T", base[-1],
            remote_command(argv, sudo=use_sudo, environment=environment)]


def ssh_exit_master(target: SshTarget, options: SshOptions) -> list[str]:
    """Close the shared connection (tests; `host` commands that must reconnect)."""
    base = ssh_base(target, options)
    return [*base[:-1], "-O", "exit", base[-1]]
