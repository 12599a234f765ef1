"""ssh's own failures (exit 255) as one error naming the host and the fix. Pure: reads
ssh's diagnostics text."""

from __future__ import annotations

import re

from tr4ctl.errors import BadInput, MissingPrerequisite, Tr4ctlError
from tr4ctl.plan.ssh_target import SshTarget

SSH_FAILED = 255
_OFFENDING = re.compile(r"Offending \S+ key in (\S+):(\d+)")


class UnknownHostKey(BadInput):
    """First contact without the accept flag (remote/host_keys.py shows the fingerprint)."""


def ssh_failure(target: SshTarget, options, diagnostics: str) -> Tr4ctlError | None:
    """The error for ssh's diagnostics, or None when exit 255 came from the remote side."""
    text = diagnostics
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "Host key verification failed" in text:
        offending = _OFFENDING.search(text)
        if offending or "HAS CHANGED" in text:
            where = f"{offending.group(1)}:{offending.group(2)}" if offending else "known_hosts"
            return BadInput(
                f"{target}'s host key has changed since {where} recorded it: refused",
                f"if the host was really replaced, remove line {where} (ssh-keygen -R), "
                "then connect again")
        return UnknownHostKey(
            f"{target}'s host key is not in known_hosts: refused",
            "check its fingerprint, then rerun with --accept-host-key")
    if "Permission denied" in text:
        return BadInput(f"{target} refused the login (no key it accepts)",
                        "load the key in ssh-agent, or set TR4CTL_SSH_KEY / -i")
    last = [line for line in text.strip().splitlines() if line.strip()]
    if last:
        return MissingPrerequisite(f"cannot reach {target} over SSH: {last[-1]}",
                                   "check the address, the port and that sshd runs there")
    return None
