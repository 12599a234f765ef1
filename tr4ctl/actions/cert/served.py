"""What nginx presents on the published HTTPS port, compared with what is on disk."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from tr4ctl.plan.certificates import CertificateInfo, parse_certificate
from tr4ctl.plan.target import connect_address
from tr4ctl.runtime import Runtime


@dataclass(frozen=True)
class ServedCertificate:
    certificate: CertificateInfo | None
    http_status: int | None
    error: str | None = None


def served_certificate(rt: Runtime, domain: str, timeout: float = 5.0) -> ServedCertificate:
    """Connect to the published HTTPS port with SNI = domain: the certificate nginx presents.

    The chain is not verified here on purpose: the check is that the presented
    certificate is byte-for-byte the one on disk (compared by fingerprint).
    """
    config = rt.config
    host, port = connect_address(config.bind_address), config.https_port
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


def wait_until_served(rt: Runtime, domain: str, expected: CertificateInfo,
                      timeout: float = 15.0) -> ServedCertificate:
    """A reload is asynchronous: old workers finish; new connections get the new certificate."""
    deadline = time.monotonic() + timeout
    while True:
        served = served_certificate(rt, domain)
        if served.certificate is not None and served.certificate.fingerprint == expected.fingerprint:
            return served
        if time.monotonic() > deadline:
            return served
        time.sleep(0.2)
