"""The README's "Production on one host", run as written against a real ACME server
(pebble) on the stack's own network, and between its steps the checks of each
production item: HTTP-only until the certificate (503 with the fix, said by `up`,
`status` and `verify`), hints that name the actual ACME failure, the redirect and the
TLS curves, a failed unattended pass reported with its cause, and an unattended renewal
by the certbot-renew service (forced early, as the README shows) that nginx serves.

One stack for the module; the tests run in order and build on each other.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import new_stack, wait_for
from pebble import (
    PEBBLE_DIR_URL,
    disk_serial,
    save_pebble_root,
    served_serial,
    start_pebble,
    stop_pebble,
    wait_for_pebble,
)

from tr4ctl.facts import RENEW_FORCE_FILE

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Production on one host"
DOMAIN = "prod.tr4ctl-test.internal"
PENDING = "HTTPS is pending"


# -- the README section, as written ----------------------------------------------------------
def readme_blocks() -> list[list[str]]:
    """The section's bash blocks, each a list of commands (comments and blanks dropped,
    backslash continuations joined)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else None]
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", section, re.DOTALL):
        joined = body.replace("\\\n", " ")
        blocks.append([line.strip() for line in joined.splitlines()
                       if line.strip() and not line.strip().startswith("#")])
    return blocks


@dataclass
class Readme:
    """The README's commands with this test's values in place of its examples; each
    runs in bash, with `tr4ctl` this checkout's CLI (on PATH, as the README assumes)."""

    main: list[str]
    drill: list[str]
    private_ca: list[str]
    path_dir: Path
    folder: Path  # where the commands are typed (relative paths land there)
    exports: list[str] = field(default_factory=list)

    def run(self, command: str) -> subprocess.CompletedProcess:
        if command.startswith("export "):
            self.exports.append(command)
            return subprocess.CompletedProcess(command, 0, "", "")
        script = "; ".join([*self.exports, command])
        env = {key: value for key, value in os.environ.items() if not key.startswith("TR4CTL_")}
        env["PATH"] = f"{self.path_dir}{os.pathsep}{env.get('PATH', '')}"
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                                env=env, timeout=900, cwd=self.folder)
        assert result.returncode == 0, (f"README command `{command}` exited "
                                        f"{result.returncode}:\n{result.stderr}\n{result.stdout}")
        return result

    def run_main(self, first: str | None = None, last: str | None = None) -> dict[str, str]:
        """The main block's commands from the one starting with `first` through the one
        starting with `last`; their stderr by command."""
        commands = self.main
        if first is not None:
            commands = commands[next(i for i, c in enumerate(commands) if c.startswith(first)):]
        if last is not None:
            commands = commands[:next(i for i, c in enumerate(commands) if c.startswith(last)) + 1]
        return {command: self.run(command).stderr for command in commands}


# The README types these on a workstation to reach the host (test_remote.py and
# test_host_bootstrap.py run them against hosts of their own); on the host itself, as the
# README's last step says, the same commands run without them.
WORKSTATION_ONLY = ("tr4ctl config set TR4CTL_HOST=", "tr4ctl host ")


def on_the_host(commands: list[str]) -> list[str]:
    return [c for c in commands if not c.startswith(WORKSTATION_ONLY)]


def substituted(commands: list[str], values: dict[str, str]) -> list[str]:
    out = []
    for command in commands:
        for example, value in values.items():
            command = command.replace(example, value)
        out.append(command)
    return out


@dataclass
class Prod:
    stack: object
    readme: Readme
    ca_file: Path  # signs pebble's API certificate (the --ca-bundle)
    root_file: Path  # pebble's issuing root (TR4CTL_CA_BUNDLE), once pebble runs


@pytest.fixture(scope="module")
def prod(docker_engine, tmp_path_factory):
    # Only what the README leaves to the host: project name, loopback ports, local images.
    stack = new_stack(tmp_path_factory, "readme", with_pebble=True)
    shim_dir = tmp_path_factory.mktemp("bin")
    shim = shim_dir / "tr4ctl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tr4ctl "$@"\n')
    shim.chmod(0o755)
    pebble_dir = tmp_path_factory.mktemp("pebble")
    root_file = tmp_path_factory.mktemp("root") / "pebble-root.pem"
    # The README's example values -> this test's (nothing else is changed).
    values = {
        "api.example.com": DOMAIN,
        "https://acme.internal/directory": PEBBLE_DIR_URL,
        "/etc/ssl/certs/acme-server-ca.pem": str(pebble_dir / "ca.pem"),
        "/etc/ssl/certs/issuing-ca.pem": str(root_file),
        "tr4ction-certbot-renew-1": f"{stack.name}-certbot-renew-1",
    }
    blocks = readme_blocks()
    text = "\n".join(" ".join(block) for block in blocks)
    assert [example for example in values if example not in text] == []
    main, drill, private_ca = (substituted(block, values) for block in blocks)
    readme = Readme(on_the_host(main), drill, private_ca, shim_dir, stack.project_dir)
    try:
        yield Prod(stack, readme, pebble_dir / "ca.pem", root_file)
    finally:
        stop_pebble(stack)
        stack.tr4ctl("down", "--volumes", "--yes", check=False)


def env_and_conf(stack) -> tuple[bytes, bytes]:
    return ((stack.project_dir / ".env").read_bytes(),
            (stack.project_dir / ".tr4ctl" / "nginx" / "tr4ctl.conf").read_bytes())


def said_by(result: subprocess.CompletedProcess) -> str:
    """stderr with the terminal's line wrapping undone."""
    return " ".join(result.stderr.split())


def checks_of(doc: dict) -> dict[str, dict]:
    return {check["name"]: check for check in doc["checks"]}


def https_get(prod: Prod, path: str) -> httpx.Response:
    from pebble import tls_context

    with httpx.Client(verify=tls_context(prod.root_file), timeout=10) as client:
        return client.get(f"https://127.0.0.1:{prod.stack.https_port}{path}",
                          headers={"Host": DOMAIN}, extensions={"sni_hostname": DOMAIN})


# -- 1. up --env prod: HTTP only for the challenge and /health, and everyone says so ----------
def test_readme_up_leaves_https_pending_and_the_api_closed(prod):
    stack = prod.stack
    stderr = prod.readme.run_main(last="tr4ctl up --env prod")
    up_says = " ".join(next(text for command, text in stderr.items()
                            if "up --env prod" in command).split())
    assert PENDING in up_says and "tr4ctl cert issue" in up_says
    start_pebble(stack, prod.ca_file.parent)  # the network exists since `init`

    health = httpx.get(stack.url("/health"), timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "healthy"}
    for method, path in (("POST", "/api/auth/login"), ("GET", "/api/users"), ("GET", "/"),
                         ("GET", "/docs")):
        answer = httpx.request(method, stack.url(path), json={}, timeout=10)
        assert answer.status_code == 503, (method, path)
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert body["fix"] == "tr4ctl cert issue" and body["error"].startswith(PENDING)
        assert answer.headers["X-Frame-Options"] == "DENY"
    stack.compose_exec("certbot-renew", "sh", "-c", "mkdir -p /var/www/certbot/.well-known/"
                       "acme-challenge && echo t4t-token > /var/www/certbot/.well-known/"
                       "acme-challenge/t4t")
    challenge = httpx.get(stack.url("/.well-known/acme-challenge/t4t"), timeout=10)
    assert (challenge.status_code, challenge.text) == (200, "t4t-token\n")

    status = stack.tr4ctl("--json", "status")
    assert json.loads(status.stdout)["data"]["https_pending"] is True
    assert PENDING in said_by(status)

    verify = stack.tr4ctl("--json", "verify", "--no-restart", check=False)
    assert verify.returncode == 1
    checks = checks_of(json.loads(verify.stdout))
    redirect = checks["HTTP redirects to HTTPS"]
    assert redirect["verdict"] == "fail" and PENDING in redirect["reason"]
    assert "tr4ctl cert issue" in redirect["reason"]
    for name in ("auth: wrong password refused", "login rate limiting", "/docs and /redoc blocked"):
        assert checks[name]["verdict"] == "skip" and PENDING in checks[name]["reason"]
    assert checks["security headers"]["verdict"] == "pass"
    # A fresh prod stack has no accounts yet: the README says verify fails until seeded.
    accounts = checks["admin and founder accounts exist"]
    assert accounts["verdict"] == "fail" and "tr4ctl users seed" in accounts["reason"]


# -- 2. an ACME server that cannot be used: the hint names that failure ----------------------
def test_acme_failures_name_their_cause_and_change_nothing(prod):
    stack = prod.stack
    wait_for_pebble(stack, prod.ca_file)
    before = env_and_conf(stack)
    ca = str(prod.ca_file)

    unreachable = stack.tr4ctl("cert", "issue", "--server", "https://pebble:14999/dir",
                               "--ca-bundle", ca, check=False)
    said = said_by(unreachable)
    assert unreachable.returncode == 1
    assert ("certbot failed: the ACME server https://pebble:14999/dir is unreachable "
            "(connection refused)") in said
    assert "--server" in said and "port 80" not in said
    for raw in ("HTTPSConnectionPool", "requests.exceptions", "Traceback", "Max retries"):
        assert raw not in said

    untrusted = stack.tr4ctl("cert", "issue", "--server", PEBBLE_DIR_URL, check=False)
    said = said_by(untrusted)
    assert untrusted.returncode == 1
    assert (f"the ACME server {PEBBLE_DIR_URL} presents a TLS certificate certbot does not "
            "trust") in said
    assert "--ca-bundle" in said and "SSLCertVerificationError" not in said

    plain = stack.tr4ctl("cert", "issue", "--server", "http://pebble:14000/dir", "--ca-bundle",
                         ca, check=False)
    lines = [line for line in plain.stderr.splitlines() if line.strip()]
    assert plain.returncode == 2 and len(lines) == 1
    assert "plain HTTP" in lines[0] and "use https://pebble:14000/dir" in lines[0]
    assert "--ca-bundle" not in lines[0].split("plain HTTP", 1)[1]
    assert env_and_conf(stack) == before


# -- 3. the certificate, the accounts, verify -------------------------------------------------
def test_readme_certificate_accounts_and_verify_pass(prod):
    stack = prod.stack
    save_pebble_root(stack, prod.ca_file, prod.root_file)
    for command in prod.readme.private_ca:  # the README's step 4 for a private ACME CA
        prod.readme.run(command)
    stderr = prod.readme.run_main(first="tr4ctl users seed")  # seed, verify, cert status
    assert any("checks passed" in text for text in stderr.values())
    passwords = stack.project_dir / "initial-passwords.json"
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600

    assert https_get(prod, "/health").json() == {"status": "healthy"}
    assert served_serial(stack, DOMAIN, prod.root_file) == disk_serial(stack, DOMAIN)
    # The issue's own reproduction: a dry run by hand inside the renewal service trusts
    # the private CA now.
    dry_run = subprocess.run(
        ["docker", "exec", f"{stack.name}-certbot-renew-1", "certbot", "renew", "--dry-run",
         "--server", PEBBLE_DIR_URL, "--no-random-sleep-on-renew"],
        capture_output=True, text=True, timeout=300)
    assert dry_run.returncode == 0, dry_run.stdout + dry_run.stderr


def test_nginx_redirects_to_the_configured_domain_and_offers_modern_curves_only(prod):
    stack = prod.stack
    origin = f"https://{DOMAIN}:{stack.https_port}"
    forged = {"Host": "evil.example"}
    get = httpx.get(stack.url("/api/users?page=2"), headers=forged, timeout=10)
    assert (get.status_code, get.headers["location"]) == (301, f"{origin}/api/users?page=2")
    post = httpx.post(stack.url("/api/auth/login"), headers=forged, json={}, timeout=10)
    assert (post.status_code, post.headers["location"]) == (308, f"{origin}/api/auth/login")

    # curl inside the stack, where the domain is nginx's alias: TLS 1.3 key exchange
    # with one offered group at a time.
    def handshake(curve: str) -> int:
        script = (f"cat > /tmp/t4t-root.pem && curl -sS -o /dev/null --tlsv1.3 --curves {curve}"
                  f" --cacert /tmp/t4t-root.pem https://{DOMAIN}/health")
        return subprocess.run(
            ["docker", "exec", "-i", f"{stack.name}-nginx-1", "sh", "-c", script],
            input=prod.root_file.read_text(), capture_output=True, text=True).returncode

    assert [handshake(c) for c in ("X25519", "prime256v1", "secp384r1")] == [0, 0, 0]
    assert handshake("X448") != 0 and handshake("secp521r1") != 0


# -- 4. unattended renewals: a failed pass is reported with its cause; a forced one served ---
def renewal_status(stack) -> tuple[dict, str]:
    result = stack.tr4ctl("--json", "cert", "status")
    return json.loads(result.stdout)["data"]["renewal"], said_by(result)


def test_a_failed_unattended_pass_is_reported_and_explained(prod):
    """The CA out of reach for one pass: the lineage's recorded server points at a closed
    port (inside the stack's network), and a forced pass is asked for."""
    stack = prod.stack
    closed = "https://pebble:14999/dir"
    conf = f"/etc/letsencrypt/renewal/{DOMAIN}.conf"
    started = datetime.now(UTC).replace(microsecond=0)
    stack.compose_exec("certbot-renew", "sed", "-i", f"s#^server = .*#server = {closed}#", conf)
    try:
        stack.compose_exec("certbot-renew", "touch", RENEW_FORCE_FILE)

        def failed_pass() -> dict | None:
            renewal, _ = renewal_status(stack)
            last = renewal.get("last_pass")
            done = last and datetime.fromisoformat(last) >= started and renewal["last_forced"]
            return renewal if done else None

        renewal = wait_for(failed_pass, "the forced pass", timeout=120, every=1)
        assert renewal["last_result"] == "failed" and renewal["last_exit"] != 0
        _, said = renewal_status(stack)
        assert "failed (exit" in said and "tr4ctl cert renew --dry-run" in said
        dry_run = stack.tr4ctl("cert", "renew", "--dry-run", check=False)
        assert dry_run.returncode == 1
        assert f"the ACME server {closed} is unreachable (connection refused)" in said_by(dry_run)
    finally:
        stack.compose_exec("certbot-renew", "sed", "-i",
                           f"s#^server = .*#server = {PEBBLE_DIR_URL}#", conf)


def test_unattended_renewal_by_the_service_is_served(prod):
    stack = prod.stack
    before = served_serial(stack, DOMAIN, prod.root_file)
    for command in prod.readme.drill:  # docker exec ... touch the force file
        prod.readme.run(command)

    def renewed_and_served() -> int | None:
        served = served_serial(stack, DOMAIN, prod.root_file)
        return served if served != before else None

    served = wait_for(renewed_and_served, "nginx to serve the renewed certificate", timeout=120,
                      every=1)
    assert served == disk_serial(stack, DOMAIN)
    assert https_get(prod, "/health").status_code == 200

    status = stack.tr4ctl("--json", "cert", "status")
    renewal = json.loads(status.stdout)["data"]["renewal"]
    assert renewal["last_result"] == "succeeded" and renewal["last_forced"] is True
    assert renewal["next_pass_in_seconds"] > 43200 - 300
    assert renewal["ca_bundle"] == str(prod.ca_file.resolve())
    assert "next automatic renewal" in said_by(status) and "succeeded" in said_by(status)
    logs = stack.tr4ctl("logs", "nginx", "certbot-renew").stdout
    assert "certificate files changed: nginx reloaded" in logs

    # `cert renew --dry-run` tests renewal where the unattended one runs.
    assert stack.tr4ctl("cert", "renew", "--dry-run").returncode == 0
