"""A real ACME server (pebble) inside a test stack's network, and TLS helpers to look at
what nginx serves. Shared by the HTTPS and production-path stack tests."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import time
from pathlib import Path

from conftest import docker
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEBBLE_IMAGE = "tr4ctl-local/pebble:bookworm"
PEBBLE_DIR_URL = "https://pebble:14000/dir"


def write_pebble_files(folder: Path, addresses: tuple[str, ...] = ()) -> Path:
    """A throwaway CA and a leaf for pebble's API; returns the CA file (the --ca-bundle).
    addresses: more IPs the leaf names (for clients that reach pebble by address)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tr4ctl test pebble API CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("pebble"), x509.DNSName("localhost"),
                                       *(x509.IPAddress(ipaddress.ip_address(a))
                                         for a in ("127.0.0.1", *addresses))])
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(san, critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "config.json").write_text(json.dumps({"pebble": {
        "listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
        "certificate": "/pebble/cert.pem", "privateKey": "/pebble/key.pem",
        "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
        "externalAccountBindingRequired": False}}))
    folder.chmod(0o755)
    for item in folder.iterdir():
        item.chmod(0o644)  # pebble reads them as another user inside its container
    return folder / "ca.pem"


def start_pebble(stack, folder: Path) -> Path:
    """pebble as `pebble` on the stack's network (which must exist: `tr4ctl init`);
    returns the CA file its API's TLS certificate chains to."""
    ca_file = write_pebble_files(folder)
    docker(
        "run", "-d", "--name", pebble_container(stack),
        # The project label lets conftest remove it even after a killed run.
        "--label", f"com.docker.compose.project={stack.name}",
        "--network", f"{stack.name}_network", "--network-alias", "pebble",
        # Names the stack does not know fail inside the engine instead of being
        # forwarded to the host's resolver: no query leaves this machine.
        "--dns", "127.0.0.1",
        "-e", "PEBBLE_VA_NOSLEEP=1", "-e", "PEBBLE_WFE_NONCEREJECT=0",
        "-v", f"{folder}:/pebble:ro", PEBBLE_IMAGE, "pebble", "-config", "/pebble/config.json",
    )
    return ca_file


def pebble_container(stack) -> str:
    return f"{stack.name}-pebble"


def stop_pebble(stack) -> None:
    docker("rm", "-f", pebble_container(stack), check=False)


def fetch_in_stack(stack, url: str, ca_file: Path) -> str:
    """GET an address inside the stack's network, from nginx's container, trusting ca_file."""
    script = "cat > /tmp/t4t-ca.pem && curl -fsS --max-time 5 --cacert /tmp/t4t-ca.pem " + url
    return stack.compose_exec("nginx", "sh", "-c", script, input=ca_file.read_text())


def wait_for_pebble(stack, ca_file: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert "newAccount" in fetch_in_stack(stack, PEBBLE_DIR_URL, ca_file)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def save_pebble_root(stack, ca_file: Path, target: Path) -> Path:
    """pebble's issuing root, from its management API (inside the stack's network)."""
    target.write_text(fetch_in_stack(stack, "https://pebble:15000/roots/0", ca_file))
    return target


def tls_context(root_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(root_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def served_serial(stack, domain: str, root_file: Path) -> int:
    """The certificate nginx presents for SNI = domain, verified against pebble's root."""
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw, \
            tls_context(root_file).wrap_socket(raw, server_hostname=domain) as tls:
        der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def disk_serial(stack, domain: str) -> int:
    pem = stack.compose_exec("nginx", "cat", f"/etc/letsencrypt/live/{domain}/cert.pem").encode()
    return x509.load_pem_x509_certificate(pem).serial_number
