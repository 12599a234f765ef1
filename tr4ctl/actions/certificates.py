"""Certificates in the certbot_conf volume, as nginx sees them, and as nginx serves them."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from tr4ctl.cli.context import AppContext
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.plan.certificates import (
    CA_BUNDLE_IN_CONTAINER,
    CERTBOT_BUSY,
    CertificateInfo,
    Lineage,
    certbot_failure,
    live_listing_script,
    parse_certificate,
    parse_live_listing,
    probe_host,
)

CERTBOT_TIMEOUT = 600.0
# The certbot-renew service holds certbot's lock while it runs: wait this long for it.
CERTBOT_BUSY_WAIT = 120.0


def certificate_path(domain: str) -> str:
    return f"/etc/letsencrypt/live/{domain}/fullchain.pem"


def certificate_present(ctx: AppContext, domain: str | None) -> bool:
    if not domain:
        return False
    test = ["test", "-s", certificate_path(domain)]
    if service_running(ctx, "nginx"):
        return ctx.engine.exec_in("nginx", test, check=False).returncode == 0
    # No nginx yet: a throwaway certbot container sees the same volume.
    probe = ctx.engine.run_tool("certbot", test[1:], entrypoint="test", check=False)
    return probe.returncode == 0


def service_running(ctx: AppContext, service: str) -> bool:
    return ctx.engine.service_states((service,))[service].state == "running"


def require_stack(ctx: AppContext, *, nginx: bool, what: str) -> None:
    """Pre-flight shared by the cert commands: an engine, a rendered stack, a running nginx."""
    ctx.engine.require_engine()
    if not ctx.paths.compose_file.exists():
        raise BadInput("this project has no stack yet", "run `tr4ctl up --env prod` first")
    if nginx and not service_running(ctx, "nginx"):
        raise BadInput(f"nginx is not running: {what} needs it",
                       "run `tr4ctl up --env prod` first")


def read_lineages(ctx: AppContext) -> dict[str, Lineage]:
    """Every certificate under /etc/letsencrypt/live, read in one exec (nginx, else certbot)."""
    script = live_listing_script()
    if service_running(ctx, "nginx"):
        listed = ctx.engine.exec_in("nginx", ["sh", "-c", script], check=False)
    else:
        listed = ctx.engine.run_tool("certbot", ["-c", script], entrypoint="sh", check=False)
    if listed.returncode != 0:
        raise OperationFailed("could not read the certificates in the certbot_conf volume",
                              "see `tr4ctl status`", details=listed.stderr.strip() or None)
    return parse_live_listing(listed.stdout)


def run_certbot(ctx: AppContext, argv: list[str], ca_bundle: Path | None) -> str:
    """certbot in the stack's certbot service; returns its output, raises with the CA's reason."""
    envs: dict[str, str] = {}
    volumes: list[str] = []
    if ca_bundle is not None:
        volumes.append(f"{ca_bundle}:{CA_BUNDLE_IN_CONTAINER}:ro")
        envs["REQUESTS_CA_BUNDLE"] = CA_BUNDLE_IN_CONTAINER
    deadline = time.monotonic() + CERTBOT_BUSY_WAIT
    told = False
    while True:
        completed = ctx.engine.run_tool("certbot", argv, envs=envs, volumes=volumes,
                                        check=False, timeout=CERTBOT_TIMEOUT)
        output = "\n".join(part for part in (completed.stdout, completed.stderr) if part)
        if completed.returncode == 0:
            return output
        if CERTBOT_BUSY in output and time.monotonic() < deadline:
            if not told:
                ctx.out.warn("certbot is busy (the unattended renewal is running): waiting")
                told = True
            time.sleep(2)
            continue
        failure = certbot_failure(output)
        raise OperationFailed(
            f"certbot failed: {failure.reason}",
            _hint_for(failure.reason, output),
            details=failure.details or None,
        )


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


# -- what nginx serves ---------------------------------------------------------------
@dataclass(frozen=True)
class ServedCertificate:
    certificate: CertificateInfo | None
    http_status: int | None
    error: str | None = None


def served_certificate(ctx: AppContext, domain: str, timeout: float = 5.0) -> ServedCertificate:
    """Connect to the published HTTPS port with SNI = domain: the certificate nginx presents.

    The chain is not verified here on purpose: the check is that the presented
    certificate is byte-for-byte the one on disk (compared by fingerprint).
    """
    settings = ctx.settings
    host, port = probe_host(settings.bind_address), settings.https_port
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=domain) as tls:
            der = tls.getpeercert(binary_form=True)
            request = (f"GET /health HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n"
                       "User-Agent: tr4ctl\r\n\r\n")
            tls.sendall(request.encode())
            status_line = tls.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
    except (OSError, ssl.SSLError) as exc:
        return ServedCertificate(None, None, f"{host}:{port}: {exc}")
    parts = status_line.split()
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    return ServedCertificate(parse_certificate(der, domain) if der else None, status)


def wait_until_served(ctx: AppContext, domain: str, expected: CertificateInfo,
                      timeout: float = 15.0) -> ServedCertificate:
    """A reload is asynchronous: old workers finish; new connections get the new certificate."""
    deadline = time.monotonic() + timeout
    while True:
        served = served_certificate(ctx, domain)
        if served.certificate is not None and served.certificate.fingerprint == expected.fingerprint:
            return served
        if time.monotonic() > deadline:
            return served
        time.sleep(0.2)
