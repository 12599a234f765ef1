"""certbot, run where it must run: in a one-off certbot container (`cert issue`, with the
CA bundle given for this run) or inside the certbot-renew service (`cert renew`: the
same container, trust and files as the unattended renewals). On failure: the CA's
reason and the hint for that kind of failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tr4ctl.docker.runner import Completed
from tr4ctl.errors import OperationFailed
from tr4ctl.facts import ACME_CA_BUNDLE_IN_CONTAINER, RENEW_SERVICE
from tr4ctl.plan.certificates import CERTBOT_BUSY, certbot_failure
from tr4ctl.runtime import Runtime

CERTBOT_TIMEOUT = 600.0
# The certbot-renew service holds certbot's lock while it runs: wait this long for it.
CERTBOT_BUSY_WAIT = 120.0


def run_certbot(rt: Runtime, argv: list[str], ca_bundle: Path | None, *,
                server: str | None = None) -> str:
    """In a one-off container of the certbot tool service."""
    envs: dict[str, str] = {}
    volumes: list[str] = []
    if ca_bundle is not None:
        volumes.append(f"{ca_bundle}:{ACME_CA_BUNDLE_IN_CONTAINER}:ro")
        envs["REQUESTS_CA_BUNDLE"] = ACME_CA_BUNDLE_IN_CONTAINER
    return _until_done(rt, lambda: rt.engine.run_tool(
        "certbot", argv, envs=envs, volumes=volumes, check=False, timeout=CERTBOT_TIMEOUT),
        server)


def run_certbot_in_renewal_service(rt: Runtime, argv: list[str], *,
                                   server: str | None = None) -> str:
    """Inside the running certbot-renew service: what succeeds here, succeeds unattended."""
    return _until_done(rt, lambda: rt.engine.exec_in(
        RENEW_SERVICE, ["certbot", *argv], check=False, timeout=CERTBOT_TIMEOUT), server)


def _until_done(rt: Runtime, run_once: Callable[[], Completed[str]], server: str | None) -> str:
    deadline = time.monotonic() + CERTBOT_BUSY_WAIT
    told = False
    while True:
        completed = run_once()
        output = "\n".join(part for part in (completed.stdout, completed.stderr) if part)
        if completed.returncode == 0:
            return output
        if CERTBOT_BUSY in output and time.monotonic() < deadline:
            if not told:
                rt.out.warn("certbot is busy (the unattended renewal is running): waiting")
                told = True
            time.sleep(2)
            continue
        failure = certbot_failure(output, server)
        raise OperationFailed(f"certbot failed: {failure.reason}", failure.hint,
                              details=failure.details)
