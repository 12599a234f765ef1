"""Host keys seen from the workstation: whether known_hosts already has a host, and the
fingerprints a first contact shows before the operator accepts them (--accept-host-key).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tr4ctl.plan.ssh_target import SshTarget
from tr4ctl.remote.commands import SshOptions

KEYSCAN_TIMEOUT = 10


def is_known(target: SshTarget, options: SshOptions) -> bool:
    """known_hosts already holds a key for the host (hashed entries too)."""
    file = options.known_hosts or Path.home() / ".ssh" / "known_hosts"
    if not file.exists():
        return False
    found = subprocess.run(["ssh-keygen", "-F", target.known_hosts_name, "-f", str(file)],
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

