"""ssh's own failures (exit 255) as one error naming the host and the fix. Pure: reads
ssh's diagnostics text (the caller adds the host's key fingerprints, which take a
process: connection.py)."""

from __future__ import annotations

from tr4ctl.errors import BadInput, MissingPrerequisite, OperationFailed, Tr4ctlError
from tr4ctl.plan.ssh_target import SshTarget

SSH_FAILED = 255
# The remote shell's "command not found" (tr4ctl is not installed there).
NOT_INSTALLED = 127
_OFFENDING = r"Offending \S+ key in (\S+):(\d+)"
_CHANGED = "REMOTE HOST IDENTIFICATION HAS CHANGED"


class UnknownHostKey(BadInput):
    """A first contact without the accept flag: refused, showing the host's fingerprints."""


def unknown_host_key(diagnostics: str) -> bool:
    """ssh refused a host it has no key for (first contact), not a changed key."""
    return "Host key verification failed" in diagnostics and _CHANGED not in diagnostics \
        and not _offending(diagnostics)


def ssh_failure(target: SshTarget, options, diagnostics: str,
                fingerprints: list[str] | None = None) -> Tr4ctlError | None:
    """The error for ssh's diagnostics, or None when exit 255 came from the remote side.
    `fingerprints`: the keys the host offers, `TYPE SHA256:...` (first contact)."""
    text = diagnostics
    known_hosts = getattr(options, "known_hosts", None) or "~/.ssh/known_hosts"
    offending = _offending(text)
    if _CHANGED in text or offending:
        where = f"{offending.group(1)}:{offending.group(2)}" if offending else (
            str(known_hosts))
        return BadInput(
            f"{target}'s host key has changed since {where} recorded it: refused "
            "(the host was replaced or someone is in between)",
            f"if the host was really replaced, remove that line (ssh-keygen -R "
            f"'{target.known_hosts_name}'), check the new key, then connect again")
    if unknown_host_key(text):
        shown = ", ".join(fingerprints or []) or "not readable (ssh-keyscan got no key)"
        return UnknownHostKey(
            f"{target}'s host key is not in {known_hosts}: refused; it offers {shown}",
            "check that fingerprint with the host's provider, then rerun with "
            "--accept-host-key")
    if "Permission denied" in text:
        return BadInput(f"{target} refused the login (no key it accepts)",
                        "load the key in ssh-agent, or set TR4CTL_SSH_KEY to the private key "
                        f"whose public half is in {target.user or 'the user'}'s "
                        "~/.ssh/authorized_keys")
    last = [line for line in text.strip().splitlines() if line.strip()]
    if last and ("closed" in last[-1] or "Broken pipe" in last[-1]):
        return lost(target, last[-1])
    if last:
        return MissingPrerequisite(f"cannot reach {target} over SSH: {last[-1]}",
                                   "check the address, the port and that sshd runs there")
    return None


def _offending(text: str):
    """The known_hosts line ssh names for a changed key (re imported only on a failure:
    a forwarded command's start imports no re, see cli/launch.py)."""
    import re

    return re.search(_OFFENDING, text)


def lost(target: SshTarget, why: str) -> OperationFailed:
    """The connection went in the middle of a command."""
    return OperationFailed(f"the SSH connection to {target} was lost: {why}",
                           "the command on the host was stopped and put back what it had "
                           "begun; `tr4ctl status` shows the stack")


def not_installed(target: SshTarget) -> MissingPrerequisite:
    return MissingPrerequisite(f"tr4ctl is not installed on {target.host}",
                               f"run `tr4ctl host bootstrap {target}`")

