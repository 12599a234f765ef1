"""Issue 6 on a real engine: health, baselines, bench and verify, healthy and broken.

Tests check behaviour, never speed: on a busy machine a latency check may legitimately
fail as a regression against the default baseline, so the healthy-stack test accepts a
"regression" verdict on latency checks only, and asserts everything else.
Anything a test stops or breaks is on its own stacks, never the shared dev_stack.
"""

from __future__ import annotations

import datetime
import json
import subprocess

import pytest
from conftest import free_port, new_stack, own_environment, running_stack
from terminal import END, terminal

ACCOUNTS = {"accounts": [
    {"email": "admin@example.test", "role": "admin", "password": "correct-horse-battery-1"},
    {"email": "founder@example.test", "role": "founder", "password": "correct-horse-battery-2"},
]}
LATENCY = {"nginx /health", "backend /health (direct)", "proxy overhead"}
PROD_ONLY = {"/docs and /redoc blocked", "HTTP redirects to HTTPS"}
DOMAIN = "tr4ctl-health.test"


def checks_of(doc: dict) -> dict[str, dict]:
    return {check["name"]: check for check in doc["checks"]}


def run_json(stack, *args, expect: int) -> dict:
    result = stack.tr4ctl(*args, "--json", check=False)
    assert result.returncode == expect, f"{result.stderr}\n{result.stdout}"
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def compose(stack, *args: str, files: list[str] | None = None) -> None:
    argv = ["docker", "compose", "-p", stack.name]
    for path in files or [str(stack.project_dir / ".tr4ctl" / "docker-compose.yml")]:
        argv += ["-f", path]
    result = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr


def seed_accounts(stack) -> None:
    stack.compose_exec("backend", "python3", "-m", "app.manage", "seed",
                       input=json.dumps(ACCOUNTS))


def health_doc(stack, *args: str, env: dict | None = None) -> dict:
    """`health --json`, whatever its verdict; the exit code must agree with the status."""
    result = stack.tr4ctl("--json", "health", *args, env=env, check=False)
    assert result.returncode in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    assert result.returncode == (0 if doc["status"] == "pass" else 1)
    return doc


def assert_healthy_apart_from_speed(doc: dict) -> None:
    for check in doc["checks"]:
        if check["name"] in LATENCY:
            assert check["p50_ms"] is not None and check["errors"] == {}, check
            assert check["ok"] or check["reason"].startswith("regression"), check
        else:
            assert check["ok"], check


@pytest.fixture(scope="module")
def own_stack(docker_engine, tmp_path_factory):
    """A dev stack this module may stop and break."""
    with running_stack(tmp_path_factory, "hbrk") as stack:
        yield stack


# -- health -----------------------------------------------------------------------------
def test_health_json_on_a_healthy_dev_stack(dev_stack):
    doc = health_doc(dev_stack)
    assert doc["command"] == "health"
    names = set(checks_of(doc))
    assert {"service backend", "service nginx", "service chroma", "backend /ready",
            "chroma heartbeat", "gunicorn workers"} | LATENCY <= names
    assert_healthy_apart_from_speed(doc)
    assert doc["status"] == ("pass" if all(c["ok"] for c in doc["checks"]) else "fail")
    for name in LATENCY:
        check = checks_of(doc)[name]
        assert {"p50_ms", "p95_ms", "p99_ms", "baseline_ms"} <= set(check)
        assert check["samples"] == 50
    assert checks_of(doc)["backend /health (direct)"]["baseline_ms"]["p50_ms"] == 50.0
    assert doc["data"]["tolerance"]["rule"] == "p50 and p95 may reach 2x the baseline + 1 ms"
    # The command's own --json prints the same document.
    result = dev_stack.tr4ctl("health", "--samples", "5", "--json", check=False)
    same = json.loads(result.stdout)
    assert result.returncode == (0 if same["status"] == "pass" else 1)
    assert set(checks_of(same)) == names and same["command"] == "health"


def test_health_watch_redraws_one_table_until_ctrl_c(dev_stack):
    argv = dev_stack.argv("health", "--watch", "--interval", "0.5", "--samples", "5")
    with terminal(argv, 100, own_environment()) as term:
        term.wait_for("round 3 at")
        term.keys("C-c")
        shown = term.wait_for(END)
    assert any(f"{END} 0" in line for line in shown), "\n".join(shown)  # Ctrl-C: exit 0
    tables = [line for line in shown if line.startswith("┏")]
    assert len(tables) == 1, "\n".join(shown)  # redrawn in place, not appended
    assert any("nginx /health" in line for line in shown)
    refused = dev_stack.tr4ctl("health", "--watch", "--json", check=False)
    assert refused.returncode == 2 and "--watch" in refused.stderr


def test_baseline_round_trip(dev_stack, tmp_path):
    saved_file = tmp_path / "baseline.json"
    first = dev_stack.tr4ctl("--json", "health", "--save-baseline", str(saved_file),
                             check=False)
    assert first.returncode in (0, 1), first.stderr
    assert f"baseline saved to {saved_file}" in first.stderr
    saved = json.loads(saved_file.read_text())
    assert saved["format"] == "tr4ctl-baseline/1"
    measured = {c["metric"]: c for c in json.loads(first.stdout)["checks"] if c.get("metric")}

    second = dev_stack.tr4ctl("--json", "health", "--baseline", str(saved_file), check=False)
    doc = json.loads(second.stdout)
    assert second.returncode == (0 if doc["status"] == "pass" else 1)
    assert "saved by tr4ctl health" in doc["data"]["baseline"]["source"]
    for check in doc["checks"]:
        if check.get("metric"):
            metric = check["metric"]
            # As measured; an overhead below zero (noise) is saved as 0.
            assert check["baseline_ms"] == {f"{p}_ms": max(0.0, measured[metric][f"{p}_ms"])
                                            for p in ("p50", "p95", "p99")}
            assert check["ok"] or check["reason"].startswith("regression")


def test_impossible_baseline_fails_with_both_figures(dev_stack, tmp_path):
    impossible = {p: 0.001 for p in ("p50", "p95", "p99")}
    baseline = tmp_path / "impossible.json"
    # No slack: a fast, quiet machine answers within the default 1 ms of slack.
    baseline.write_text(json.dumps({
        "format": "tr4ctl-baseline/1", "source": "impossible",
        "tolerance": {"ratio": 1, "slack_ms": 0},
        "latency_ms": {m: impossible for m in ("nginx", "backend", "proxy_overhead")}}))
    result = dev_stack.tr4ctl("--json", "health", "--baseline", str(baseline), check=False)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["status"] == "fail"
    regressions = [c for c in doc["checks"] if c.get("metric") and not c["ok"]]
    assert regressions
    nginx = checks_of(doc)["nginx /health"]
    assert not nginx["ok"]
    assert f"p50 {nginx['p50_ms']:.3f} ms > limit 0.001 ms (baseline 0.001 ms" in nginx["reason"]
    assert "baseline 0.001 ms" in result.stderr and "limit 0.001 ms" in result.stderr


def test_stopped_backend_fails_and_is_named(own_stack):
    compose(own_stack, "stop", "backend")
    try:
        result = own_stack.tr4ctl("health", "--samples", "5", check=False)
        assert result.returncode == 1
        assert "service backend: backend is exited" in result.stderr
        doc = run_json(own_stack, "health", "--samples", "5", expect=1)
        checks = checks_of(doc)
        assert not checks["service backend"]["ok"]
        assert "backend" in checks["backend /health (direct)"]["reason"]
        assert "HTTP 502" in checks["nginx /health"]["reason"]
        assert checks["service chroma"]["ok"] and checks["service nginx"]["ok"]
    finally:
        own_stack.tr4ctl("up", "--env", "dev")
    assert_healthy_apart_from_speed(health_doc(own_stack, "--samples", "5"))


def test_stopped_chroma_is_named_by_readiness_while_nginx_answers(own_stack):
    compose(own_stack, "stop", "chroma")
    try:
        doc = run_json(own_stack, "health", "--samples", "5", expect=1)
        checks = checks_of(doc)
        assert not checks["service chroma"]["ok"]
        ready = checks["backend /ready"]
        assert not ready["ok"] and ready["reason"].startswith("not ready: chroma:")
        assert not checks["chroma heartbeat"]["ok"]
        nginx = checks["nginx /health"]
        assert nginx["errors"] == {} and nginx["samples"] == 5  # still answers 200
        assert checks["service backend"]["ok"]
    finally:
        own_stack.tr4ctl("up", "--env", "dev")


# -- bench ------------------------------------------------------------------------------
def test_bench_counts_requests_and_stays_within_its_bounds(dev_stack):
    by_count = dev_stack.json("bench", "--requests", "40", "--concurrency", "2")["data"]
    assert by_count["requests"] == 40 and by_count["stopped_by"] == "requests"
    assert by_count["statuses"] == {"200": 40} and by_count["failed"] == 0
    assert by_count["requests_per_second"] > 0
    assert by_count["latency_ms"]["samples"] == 40
    assert by_count["url"] == dev_stack.url("/health")

    by_time = dev_stack.json("bench", "--duration", "1", "--concurrency", "3")["data"]
    assert by_time["stopped_by"] == "duration" and by_time["requests"] > 0
    # Requests in flight at the deadline may finish, each within the 5 s request timeout.
    assert by_time["seconds"] < 1 + 5 + 1


def test_bench_reports_errors_by_status(dev_stack):
    result = dev_stack.tr4ctl("--json", "bench", "--requests", "5", "--path", "/no-such-page",
                              check=False)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["data"]["statuses"] == {"404": 5} and doc["data"]["errors"] == {"HTTP 404": 5}


# -- verify -----------------------------------------------------------------------------
def test_verify_passes_every_item_on_a_healthy_dev_stack(dev_stack):
    seed_accounts(dev_stack)
    doc = run_json(dev_stack, "verify", "--restart", expect=0)
    assert doc["status"] == "pass"
    checks = checks_of(doc)
    for name in ("compose configuration valid", "backend image built", "all containers running",
                 "health checks passing", "nginx proxies to the backend", "database initialised",
                 "CORS: configured origins only", "auth: wrong password refused",
                 "auth: token required", "admin and founder accounts exist",
                 "no PermissionError in backend logs", "logging active", "disk space",
                 "data survives a backend restart", "non-root: backend", "non-root: nginx",
                 "port 8000 not published", "security headers", "login rate limiting"):
        assert checks[name]["verdict"] == "pass", checks[name]
        assert checks[name]["evidence"], name
    for name in PROD_ONLY:
        assert checks[name]["verdict"] == "skip"
    assert "kept" in checks["data survives a backend restart"]["evidence"]
    assert "429" in checks["login rate limiting"]["evidence"]


def test_verify_fails_the_item_of_a_missing_account(own_stack):
    seed_accounts(own_stack)
    own_stack.compose_exec("backend", "python3", "-c", (
        "import sqlite3; db = sqlite3.connect('/app/data/tr4ction.db'); "
        "db.execute(\"DELETE FROM users WHERE role = 'founder'\"); db.commit()"))
    doc = run_json(own_stack, "verify", "--no-restart", expect=1)
    failing = {c["name"]: c for c in doc["checks"] if not c["ok"]}
    assert set(failing) == {"admin and founder accounts exist"}
    assert "no founder account" in failing["admin and founder accounts exist"]["reason"]
    assert checks_of(doc)["data survives a backend restart"]["verdict"] == "skip"


def test_verify_fails_when_port_8000_is_published(own_stack, tmp_path):
    seed_accounts(own_stack)
    port = free_port()
    override = tmp_path / "publish-8000.yml"
    override.write_text(f'services:\n  backend:\n    ports: ["127.0.0.1:{port}:8000"]\n')
    compose_file = str(own_stack.project_dir / ".tr4ctl" / "docker-compose.yml")
    compose(own_stack, "up", "-d", "--wait", "backend", files=[compose_file, str(override)])
    try:
        compose(own_stack, "exec", "-T", "nginx", "nginx", "-s", "reload")  # new backend address
        doc = run_json(own_stack, "verify", "--no-restart", expect=1)
        item = checks_of(doc)["port 8000 not published"]
        assert not item["ok"]
        assert f"127.0.0.1:{port}->8000/tcp" in item["reason"]
    finally:
        own_stack.tr4ctl("up", "--env", "dev")
    doc = run_json(own_stack, "verify", "--no-restart", expect=0)
    assert checks_of(doc)["port 8000 not published"]["ok"]


# -- prod -------------------------------------------------------------------------------
def make_certificate(directory, domain: str) -> None:
    """A private CA and a leaf for the domain: what certbot would leave in live/<domain>/."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tr4ctl test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "fullchain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (directory / "privkey.pem").write_bytes(leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def prod_stack(docker_engine, tmp_path_factory):
    certs = tmp_path_factory.mktemp("certs")
    make_certificate(certs, DOMAIN)
    stack = new_stack(tmp_path_factory, "hprod", settings={
        "TR4CTL_DOMAIN": DOMAIN, "TR4CTL_CA_BUNDLE": str(certs / "ca.pem")})
    stack.tr4ctl("init")
    live = f"/etc/letsencrypt/live/{DOMAIN}"
    compose(stack, "run", "--rm", "--no-deps", "-T", "-v", f"{certs}:/src:ro",
            "--entrypoint", "sh", "certbot", "-c",
            f"mkdir -p {live} && cp /src/fullchain.pem /src/privkey.pem {live}/")
    stack.tr4ctl("up", "--env", "prod")
    yield stack
    stack.tr4ctl("down", "--volumes", "--yes", check=False)


def test_prod_health_over_https_with_sni_and_the_ca_bundle(prod_stack):
    doc = health_doc(prod_stack, "--samples", "10")
    assert doc["data"]["nginx_mode"] == "prod"
    assert doc["data"]["target"] == (f"https://127.0.0.1:{prod_stack.https_port} (as {DOMAIN})")
    assert_healthy_apart_from_speed(doc)


def test_verify_passes_every_item_on_a_healthy_prod_stack(prod_stack):
    seed_accounts(prod_stack)
    doc = run_json(prod_stack, "verify", "--restart", expect=0)
    checks = checks_of(doc)
    # Every item passes; the off-host backups' is not applicable without a schedule.
    not_set = {"scheduled backup off the host"}
    assert all(check["verdict"] == "pass" or (check["name"] in not_set
                                              and check["verdict"] == "skip")
               for check in doc["checks"]), [
        c for c in doc["checks"] if c["verdict"] != "pass"]
    assert "strict-transport-security: max-age" in checks["security headers"]["evidence"]
    assert "GET /docs -> 404" in checks["/docs and /redoc blocked"]["evidence"]
    assert f"https://{DOMAIN}" in checks["HTTP redirects to HTTPS"]["evidence"]


def test_prod_health_refuses_an_untrusted_certificate(prod_stack):
    # The public roots (certifi) do not know the test CA: the nginx path fails.
    import certifi

    doc = health_doc(prod_stack, "--samples", "2", env={"TR4CTL_CA_BUNDLE": certifi.where()})
    assert doc["status"] == "fail"
    nginx = checks_of(doc)["nginx /health"]
    assert not nginx["ok"] and "CERTIFICATE_VERIFY_FAILED" in nginx["reason"]
