"""Host keys seen from the workstation: whether known_hosts already has a host, and the
fingerprints a first contact shows before the operator accepts them (--accept-host-key).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote.commands import SshOptions
from tr4ctl.remote.failures import UnknownHostKey

KEYSCAN_TIMEOUT = 10


def known_hosts_name(target: SshTarget) -> str:
    """How known_hosts names the host: `[host]:port` off port 22."""
    return f"[{target.host}]:{target.port}" if target.port not in (None, 22) else target.host


def is_known(target: SshTarget, options: SshOptions) -> bool:
    """known_hosts already holds a key for the host (hashed entries too)."""
    file = options.known_hosts or Path.home() / ".ssh" / "known_hosts"
    if not file.exists():
        return False
    found = subprocess.run(["ssh-keygen", "-F", known_hosts_name(target), "-f", str(file)],
                           capture_output=True)
    return found.returncode == 0


def fingerprints(target: SshTarget) -> list[str]:
    """`ED25519 SHA256:...` for each key the host offers ([] when it does not answer)."""
    try:
        scanned = subprocess.run(
            ["ssh-keyscan", "-T", str(KEYSCAN_TIMEOUT), "-p", str(target.port or 22),
             target.host], capture_output=True, timeout=KEYSCAN_TIMEOUT + 5)
        listed = subprocess.run(["ssh-keygen", "-l", "-f", "-"], input=scanned.stdout,
                                capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in listed.stdout.decode(errors="replace").splitlines():
        words = line.split()  # bits SHA256:... host (TYPE)
        if len(words) >= 3 and words[1].startswith("SHA256:"):
            found.append(f"{words[-1].strip('()')} {words[1]}")
    return sorted(set(found))


def with_fingerprints(error: UnknownHostKey, target: SshTarget) -> UnknownHostKey:
    """The refusal of a first contact, showing what the operator is asked to accept."""
    shown = fingerprints(target)
    if not shown:
        return error
    return UnknownHostKey(
        f"{error.message}; it offers {', '.join(shown)}",
        "compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's "
        "console, then rerun with --accept-host-key")
