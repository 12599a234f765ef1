"""Issue 4 on a real engine, offline: the whole production path against a real ACME
server (pebble) on the stack's own network.

One prod stack for the module; the tests run in order and build on each other:
HTTP first, then a certificate by real HTTP-01 validation through nginx, status,
a forced renewal under load, a broken nginx template, a domain that does not resolve.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import docker, new_stack
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOMAIN = "tr4ctl-test.internal"
EMAIL = "ops@example.com"
PEBBLE_IMAGE = "tr4ctl-local/pebble:bookworm"
PEBBLE_DIR_URL = "https://pebble:14000/dir"
LIVE_CERT = f"/etc/letsencrypt/live/{DOMAIN}/cert.pem"


# -- pebble: its own TLS, its config, its container --------------------------------------
def write_pebble_files(folder: Path) -> Path:
    """A throwaway CA and a leaf for pebble's API; returns the CA file (the --ca-bundle)."""
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
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
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


def fetch_in_stack(stack, url: str, ca_file: Path) -> str:
    """GET an address inside the stack's network, from nginx's container, trusting ca_file."""
    script = "cat > /tmp/t4t-ca.pem && curl -fsS --max-time 5 --cacert /tmp/t4t-ca.pem " + url
    return stack.compose_exec("nginx", "sh", "-c", script, input=ca_file.read_text())


@pytest.fixture(scope="module")
def https(docker_engine, tmp_path_factory):
    stack = new_stack(tmp_path_factory, "https", with_pebble=True,
                      settings={"TR4CTL_DOMAIN": DOMAIN, "TR4CTL_EMAIL": EMAIL})
    stack.tr4ctl("init")  # the network pebble joins
    pebble_dir = tmp_path_factory.mktemp("pebble")
    ca_file = write_pebble_files(pebble_dir)
    pebble = f"{stack.name}-pebble"
    docker(
        "run", "-d", "--name", pebble,
        # The project label lets conftest remove it even after a killed run.
        "--label", f"com.docker.compose.project={stack.name}",
        "--network", f"{stack.name}_network", "--network-alias", "pebble",
        # Names the stack does not know fail inside the engine instead of being
        # forwarded to the host's resolver: no query leaves this machine.
        "--dns", "127.0.0.1",
        "-e", "PEBBLE_VA_NOSLEEP=1", "-e", "PEBBLE_WFE_NONCEREJECT=0",
        "-v", f"{pebble_dir}:/pebble:ro", PEBBLE_IMAGE, "pebble", "-config", "/pebble/config.json",
    )
    try:
        yield stack, ca_file
    finally:
        docker("rm", "-f", pebble, check=False)
        stack.tr4ctl("down", "--volumes", "--yes", check=False)


# -- helpers -----------------------------------------------------------------------------
def disk_serial(stack) -> int:
    pem = stack.compose_exec("nginx", "cat", LIVE_CERT).encode()
    return x509.load_pem_x509_certificate(pem).serial_number


def tls_context(root_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(root_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def served_serial(stack, root_file: Path) -> int:
    """The certificate nginx presents for SNI = DOMAIN, verified against pebble's root."""
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw, \
            tls_context(root_file).wrap_socket(raw, server_hostname=DOMAIN) as tls:
        der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def https_get(stack, root_file: Path, path: str) -> httpx.Response:
    # A new connection each time: what a browser arriving during a reload does.
    with httpx.Client(verify=tls_context(root_file), timeout=10) as client:
        return client.get(f"https://127.0.0.1:{stack.https_port}{path}",
                          headers={"Host": DOMAIN}, extensions={"sni_hostname": DOMAIN})


def nginx_conf(stack) -> bytes:
    return (stack.project_dir / ".tr4ctl" / "nginx" / "tr4ctl.conf").read_bytes()


def one_line_refusal(result, *words) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.fixture(scope="module")
def pebble_root(https, tmp_path_factory) -> Path:
    """pebble's issuing root, from its management API (inside the stack's network)."""
    stack, ca_file = https
    root = tmp_path_factory.mktemp("root") / "pebble-root.pem"
    root.write_text(fetch_in_stack(stack, "https://pebble:15000/roots/0", ca_file))
    return root


# -- 1. a fresh prod host ------------------------------------------------------------------
def test_prod_without_certificate_serves_http(https):
    stack, ca_file = https
    up = stack.json("up", "--env", "prod")["data"]
    assert up["nginx_mode"] == "prod-http"
    services = {s["service"]: s for s in stack.json("status")["data"]["services"]}
    for name in ("nginx", "certbot-renew"):
        assert (services[name]["state"], services[name]["health"]) == ("running", "healthy")
    assert services["nginx"]["restart_count"] == 0  # no crash loop for lack of a certificate
    response = httpx.get(stack.url("/health"), timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "healthy"}
    assert response.headers["X-Frame-Options"] == "DENY"

    # nginx prod is refused while there is no certificate, with the command that gets one.
    refused = stack.tr4ctl("nginx", "use", "prod", check=False)
    one_line_refusal(refused, "no certificate", f"tr4ctl cert issue --domain {DOMAIN}")
    assert stack.json("nginx", "status")["data"]["serving"] == "prod-http"

    # pebble is up by now (it started with the fixture).
    deadline = time.monotonic() + 60
    while True:
        try:
            assert "newAccount" in fetch_in_stack(stack, PEBBLE_DIR_URL, ca_file)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


# -- bad input: one line, exit 2, nothing changed --------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--domain", "not_a_domain"], ["invalid domain"]),
    (["--email", "ops-at-example"], ["invalid email"]),
    (["--staging", "--server", PEBBLE_DIR_URL], ["--staging and --server"]),
    (["--server", PEBBLE_DIR_URL, "--ca-bundle", "/no/such/ca.pem"], ["CA bundle", "does not exist"]),
])
def test_bad_input_changes_nothing(https, args, words):
    stack, _ = https
    env_before, conf_before = (stack.project_dir / ".env").read_bytes(), nginx_conf(stack)
    one_line_refusal(stack.tr4ctl("cert", "issue", *args, check=False), *words)
    assert (stack.project_dir / ".env").read_bytes() == env_before
    assert nginx_conf(stack) == conf_before


# -- 2. a certificate by real HTTP-01 validation through nginx ---------------------------------
def test_issue_switches_nginx_to_https_with_the_new_certificate(https, pebble_root):
    stack, ca_file = https
    result = stack.json("cert", "issue", "--server", PEBBLE_DIR_URL, "--ca-bundle", str(ca_file))
    data = result["data"]
    assert data["decision"] == "issue" and data["nginx"] == "switched"
    status = stack.json("nginx", "status")["data"]
    assert (status["config"], status["serving"], status["tls_domains"]) == ("prod", "prod", [DOMAIN])

    response = https_get(stack, pebble_root, "/health")
    assert response.status_code == 200 and response.json() == {"status": "healthy"}
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    on_disk = disk_serial(stack)
    assert served_serial(stack, pebble_root) == on_disk
    assert data["served_serial"] == format(on_disk, "X")

    # Hardened prod: docs blocked (headers on errors too), HTTP redirects to HTTPS.
    docs = https_get(stack, pebble_root, "/docs")
    assert docs.status_code == 404 and docs.headers["X-Content-Type-Options"] == "nosniff"
    redirect = httpx.get(stack.url("/health"), headers={"Host": DOMAIN}, timeout=10)
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == f"https://{DOMAIN}:{stack.https_port}/health"

    # What renewals need is remembered.
    env_text = (stack.project_dir / ".env").read_text()
    assert f"TR4CTL_ACME_SERVER={PEBBLE_DIR_URL}" in env_text
    assert f"TR4CTL_ACME_CA_BUNDLE={ca_file}" in env_text


def test_issue_again_keeps_a_valid_certificate_without_contacting_the_ca(https):
    stack, _ = https
    pebble_log = pebble_log_of(stack)
    serial = disk_serial(stack)
    data = stack.json("cert", "issue")["data"]
    assert data["decision"] == "keep" and data["nginx"] == "unchanged"
    assert disk_serial(stack) == serial
    assert pebble_log_of(stack) == pebble_log  # pebble logs every request it gets


def pebble_log_of(stack) -> str:
    logs = subprocess.run(["docker", "logs", f"{stack.name}-pebble"], capture_output=True,
                          text=True, check=True)
    return logs.stdout + logs.stderr


# -- 3. status ---------------------------------------------------------------------------------
def test_status_shows_days_left_and_that_nginx_serves_it(https):
    stack, _ = https
    data = stack.json("cert", "status")["data"]
    certs = {c["domain"]: c for c in data["certificates"]}
    cert = certs[DOMAIN]
    assert cert["days_left"] > 30 and cert["renewal_due"] is False
    assert "Pebble" in cert["issuer"]
    assert cert["served_by_nginx"] is True and cert["serial"] == format(disk_serial(stack), "X")
    assert cert["not_before"] < cert["not_after"]
    renewal = data["renewal"]
    assert renewal["service"] == "certbot-renew" and renewal["state"] == "running"
    assert renewal["interval_seconds"] == 43200


# -- 4. forced renewal under load ----------------------------------------------------------------
def test_forced_renewal_is_served_without_a_failed_request(https, pebble_root):
    stack, _ = https
    old = disk_serial(stack)
    failures: list[str] = []
    done = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal done
        while not stop.is_set():
            try:
                response = https_get(stack, pebble_root, "/health")
                if response.status_code != 200:
                    failures.append(f"status {response.status_code}")
            except Exception as exc:  # noqa: BLE001 - any failure counts
                failures.append(repr(exc))
            done += 1
            time.sleep(0.05)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        data = stack.json("cert", "renew", "--force")["data"]
        time.sleep(1)  # a few requests after the reload too
    finally:
        stop.set()
        worker.join(timeout=30)
    new = disk_serial(stack)
    assert new != old
    assert data["reloaded"] is True
    assert data["served"] == {DOMAIN: format(new, "X")}
    assert served_serial(stack, pebble_root) == new
    assert failures == []
    assert done >= 5


# -- 5. a broken template is refused; the old config keeps serving -----------------------------------
def test_nginx_rejecting_the_new_config_keeps_the_old_one(https, pebble_root, tmp_path):
    stack, _ = https
    shipped = Path(__file__).resolve().parents[2] / "nginx" / "site.conf.j2"
    override = tmp_path / "templates"
    (override / "nginx").mkdir(parents=True)
    broken = shipped.read_text().replace("server_tokens off;", "server_tokens off;\nbogus_directive on;")
    (override / "nginx" / "site.conf.j2").write_text(broken)
    before, serial = nginx_conf(stack), served_serial(stack, pebble_root)

    result = stack.tr4ctl("nginx", "use", "prod", env={"TR4CTL_TEMPLATES_DIR": str(override)},
                          check=False)
    assert result.returncode == 1
    assert "previous config is still serving" in result.stderr
    assert 'unknown directive "bogus_directive"' in result.stderr
    assert nginx_conf(stack) == before
    assert https_get(stack, pebble_root, "/health").status_code == 200
    assert served_serial(stack, pebble_root) == serial

    # A template asking for a value nobody gives: refused before nginx is touched.
    (override / "nginx" / "site.conf.j2").write_text("# tr4ctl nginx config: {{ mode }}\n{{ upstream_pool }}\n")
    result = stack.tr4ctl("nginx", "use", "prod", env={"TR4CTL_TEMPLATES_DIR": str(override)},
                          check=False)
    one_line_refusal(result, "upstream_pool")
    assert nginx_conf(stack) == before
    shutil.rmtree(override)


# -- 6. a domain that does not resolve -----------------------------------------------------------
def test_issue_for_an_unresolvable_domain_leaves_nginx_untouched(https, pebble_root):
    stack, _ = https
    env_before, conf_before = (stack.project_dir / ".env").read_bytes(), nginx_conf(stack)
    serial = served_serial(stack, pebble_root)
    result = stack.tr4ctl("--json", "cert", "issue", "--domain", "nowhere.invalid", check=False)
    assert result.returncode == 1
    error = json.loads(result.stdout)["errors"][0]
    assert error["message"].startswith("certbot failed: the CA refused: nowhere.invalid")
    assert "\n" not in error["message"] and error["details"]
    assert nginx_conf(stack) == conf_before
    assert (stack.project_dir / ".env").read_bytes() == env_before  # domain not saved
    assert served_serial(stack, pebble_root) == serial
    assert https_get(stack, pebble_root, "/health").status_code == 200


# -- and `up --env prod` once a certificate exists renders prod ------------------------------------
def test_up_prod_with_a_certificate_serves_https(https, pebble_root):
    stack, _ = https
    assert stack.json("up", "--env", "prod")["data"]["nginx_mode"] == "prod"
    assert https_get(stack, pebble_root, "/health").json() == {"status": "healthy"}
    assert served_serial(stack, pebble_root) == disk_serial(stack)
