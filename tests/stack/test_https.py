"""Issue 4 on a real engine, offline: the whole production path against a real ACME
server (pebble) on the stack's own network.

One prod stack for the module; the tests run in order and build on each other:
HTTP first, then a certificate by real HTTP-01 validation through nginx, status,
a forced renewal under load, a broken nginx template, a domain that does not resolve.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pebble
import pytest
from conftest import new_stack, wait_for
from load import RequestLoad
from one_line import refused
from pebble import (
    PEBBLE_DIR_URL,
    save_pebble_root,
    start_pebble,
    stop_pebble,
    wait_for_pebble,
)
from webhooks import webhook_receiver

from tr4ctl.facts import RENEW_STATE_FILE

DOMAIN = "tr4ctl-test.internal"
EMAIL = "ops@example.com"


@pytest.fixture(scope="module")
def https(docker_engine, tmp_path_factory):
    stack = new_stack(tmp_path_factory, "https", with_pebble=True,
                      settings={"TR4CTL_DOMAIN": DOMAIN, "TR4CTL_EMAIL": EMAIL})
    stack.tr4ctl("init")  # the network pebble joins
    ca_file = start_pebble(stack, tmp_path_factory.mktemp("pebble"))
    try:
        yield stack, ca_file
    finally:
        stop_pebble(stack)
        stack.tr4ctl("down", "--volumes", "--yes", check=False)


# -- helpers -----------------------------------------------------------------------------
def disk_serial(stack) -> int:
    return pebble.disk_serial(stack, DOMAIN)


def served_serial(stack, root_file: Path) -> int:
    return pebble.served_serial(stack, DOMAIN, root_file)


def https_get(stack, root_file: Path, path: str) -> httpx.Response:
    # A new connection each time: what a browser arriving during a reload does.
    with httpx.Client(verify=pebble.tls_context(root_file), timeout=10) as client:
        return client.get(f"https://127.0.0.1:{stack.https_port}{path}",
                          headers={"Host": DOMAIN}, extensions={"sni_hostname": DOMAIN})


def nginx_conf(stack) -> bytes:
    return (stack.project_dir / ".tr4ctl" / "nginx" / "tr4ctl.conf").read_bytes()


@pytest.fixture(scope="module")
def pebble_root(https, tmp_path_factory) -> Path:
    """pebble's issuing root, from its management API (inside the stack's network)."""
    stack, ca_file = https
    return save_pebble_root(stack, ca_file, tmp_path_factory.mktemp("root") / "pebble-root.pem")


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
    answer = stack.tr4ctl("nginx", "use", "prod", check=False)
    refused(answer, "no certificate", f"tr4ctl cert issue --domain {DOMAIN}")
    assert stack.json("nginx", "status")["data"]["serving"] == "prod-http"

    wait_for_pebble(stack, ca_file)  # started with the fixture: up by now


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
    refused(stack.tr4ctl("cert", "issue", *args, check=False), *words)
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
    # certbot-renew's own pass at its start asks the CA's directory (renewal info) even
    # for a certificate that is not due: let it finish first, or its request lands here.
    wait_for(lambda: renewal_pass_done(stack), "certbot-renew's first pass", timeout=120)
    pebble_log = pebble_log_of(stack)
    serial = disk_serial(stack)
    data = stack.json("cert", "issue")["data"]
    assert data["decision"] == "keep" and data["nginx"] == "unchanged"
    assert disk_serial(stack) == serial
    assert pebble_log_of(stack) == pebble_log  # pebble logs every request it gets


def renewal_pass_done(stack) -> bool:
    state = stack.compose_exec("certbot-renew", "sh", "-c",
                               f"cat {RENEW_STATE_FILE} 2>/dev/null || true")
    return "last_pass=" in state


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
    refused(result, "upstream_pool")
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


# -- and a deploy in prod: the switch under HTTPS load fails no request ---------------------------
def test_deploy_in_prod_fails_no_https_request(https, pebble_root):
    stack, _ = https
    password = "https-deploy-password-1"
    stack.tr4ctl("users", "seed", "--admin-email", f"admin@{DOMAIN}", "--founder-email",
                 f"founder@{DOMAIN}", "--password-stdin", input=f"{password}\n{password}\n")
    before = backend_ids(stack)
    load = RequestLoad(lambda path: f"https://127.0.0.1:{stack.https_port}{path}",
                       login={"email": f"admin@{DOMAIN}", "password": password},
                       verify=pebble.tls_context(pebble_root), headers={"Host": DOMAIN},
                       extensions={"sni_hostname": DOMAIN})
    with load:
        report = stack.json("deploy")["data"]  # nothing changed: a rolling restart
    assert load.failures == [], load.failures[:5]
    assert load.done > 20 and load.logins > 2
    assert report["release"]["result"] == "succeeded"
    assert stack.json("releases")["data"]["current"] == report["release"]["id"]
    after = backend_ids(stack)
    assert len(after) == 1 and after != before
    assert https_get(stack, pebble_root, "/health").json() == {"status": "healthy"}


def backend_ids(stack) -> list[str]:
    return subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={stack.name}",
         "--filter", "label=com.docker.compose.service=backend"],
        capture_output=True, text=True, check=True).stdout.split()


def test_a_failed_renewal_alerts_once(https):
    """Last in this module: pebble is gone after it. The alert goes to an HTTP server of
    the test's own; a second failure of the same incident sends nothing."""
    stack, _ = https
    with webhook_receiver(status=204) as (url, received):
        env = {"TR4CTL_ALERT_WEBHOOK": f"{url}/t3d2-hook"}
        pebble.stop_pebble(stack)  # the CA is gone: the renewal fails
        for _ in range(2):
            failed = stack.tr4ctl("cert", "renew", "--force", env=env, check=False)
            assert failed.returncode == 1, failed.stderr
        assert [a["status"] for a in received] == ["firing"], received
        assert received[0]["incident"] == "renewal"
        assert "certificate renewal failed" in received[0]["text"]
