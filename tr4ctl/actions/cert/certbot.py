"""certbot in the stack's certbot service: its output on success, the CA's reason and a
hint that matches the failure otherwise."""

from __future__ import annotations

import time
from pathlib import Path

from tr4ctl.errors import OperationFailed
from tr4ctl.plan.certificates import CA_BUNDLE_IN_CONTAINER, CERTBOT_BUSY, certbot_failure
from tr4ctl.runtime import Runtime

CERTBOT_TIMEOUT = 600.0
# The certbot-renew service holds certbot's lock while it runs: wait this long for it.
CERTBOT_BUSY_WAIT = 120.0


def run_certbot(rt: Runtime, argv: list[str], ca_bundle: Path | None) -> str:
    envs: dict[str, str] = {}
    volumes: list[str] = []
    if ca_bundle is not None:
        volumes.append(f"{ca_bundle}:{CA_BUNDLE_IN_CONTAINER}:ro")
        envs["REQUESTS_CA_BUNDLE"] = CA_BUNDLE_IN_CONTAINER
    deadline = time.monotonic() + CERTBOT_BUSY_WAIT
    told = False
    while True:
        completed = rt.engine.run_tool("certbot", argv, envs=envs, volumes=volumes,
                                       check=False, timeout=CERTBOT_TIMEOUT)
        output = "\n".join(part for part in (completed.stdout, completed.stderr) if part)
        if completed.returncode == 0:
            return output
        if CERTBOT_BUSY in output and time.monotonic() < deadline:
            if not told:
                rt.out.warn("certbot is busy (the unattended renewal is running): waiting")
                told = True
            time.sleep(2)
            continue
        failure = certbot_failure(output)
        raise OperationFailed(f"certbot failed: {failure.reason}", _hint_for(failure.reason, output),
                              details=failure.details or None)


def _hint_for(reason: str, output: str) -> str:
    lowered = output.lower()
    if "certificate verify failed" in lowered or "sslerror" in lowered:
        return ("certbot does not trust the ACME server's TLS certificate: pass --ca-bundle "
                "(or set TR4CTL_ACME_CA_BUNDLE)")
    if "accountdoesnotexist" in lowered or "account does not exist" in lowered:
        return ("the CA no longer knows certbot's saved account (a test CA restarted?): remove "
                "/etc/letsencrypt/accounts/<server> in the certbot_conf volume")
    if "dns" in reason.lower() or "nxdomain" in lowered or "no valid ip addresses" in lowered:
        return "the domain must resolve (public DNS) to this host before the CA can check it"
    if "connection" in reason.lower() or "timeout" in lowered:
        return "the CA must reach this host on port 80; check DNS, firewall and `tr4ctl status`"
    if CERTBOT_BUSY in output:
        return "another certbot (the certbot-renew service) kept running; try again later"
    return "nginx was not changed; `tr4ctl logs nginx` shows the CA's requests"
