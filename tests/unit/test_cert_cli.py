"""cert and nginx commands refuse bad input in one line, exit 2, before touching anything
(no Docker is needed to get there)."""

import json
import os
import subprocess
import sys

import pytest
from one_line import refused

ENV_TEXT = "TR4CTL_PROJECT_NAME=t4u-cert\nTR4CTL_DOMAIN=site.example.test\nTR4CTL_EMAIL=ops@example.test\n"


def tr4ctl(project, *args):
    return subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(project), *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")},
    )


@pytest.fixture
def project(tmp_path):
    (tmp_path / ".env").write_text(ENV_TEXT)
    return tmp_path


def assert_refused(project, result, *words):
    refused(result, *words)
    # Nothing changed: the .env as it was, nothing rendered, no lock taken.
    assert (project / ".env").read_text() == ENV_TEXT
    assert not (project / ".tr4ctl").exists()


@pytest.mark.parametrize("args, words", [
    (["--domain", "localhost"], ["invalid domain 'localhost'"]),
    (["--domain", "*.example.test"], ["wildcard"]),
    (["--email", "ops-at-example"], ["invalid email"]),
    (["--staging", "--server", "https://ca.internal/dir"], ["--staging and --server"]),
    (["--server", "https://ca.internal/dir", "--ca-bundle", "/no/such/ca.pem"],
     ["CA bundle /no/such/ca.pem does not exist"]),
    (["--server", "not a url"], ["invalid ACME server URL"]),
    (["--server", "http://ca.internal/dir"], ["plain HTTP", "use https://ca.internal/dir"]),
])
def test_cert_issue_bad_input(project, args, words):
    assert_refused(project, tr4ctl(project, "cert", "issue", *args), *words)


def test_cert_issue_without_domain_names_the_setting(tmp_path):
    (tmp_path / ".env").write_text("TR4CTL_EMAIL=ops@example.test\n")
    result = tr4ctl(tmp_path, "--json", "cert", "issue")
    assert result.returncode == 2
    error = json.loads(result.stdout)["errors"][0]
    assert "no domain" in error["message"] and "TR4CTL_DOMAIN" in error["hint"]


def test_cert_renew_with_a_missing_ca_bundle_setting(project):
    (project / ".env").write_text(ENV_TEXT + "TR4CTL_ACME_CA_BUNDLE=/no/such/bundle.pem\n")
    result = tr4ctl(project, "cert", "renew")
    assert result.returncode == 2 and "CA bundle /no/such/bundle.pem" in result.stderr


@pytest.mark.parametrize("command", [["up", "--env", "prod"], ["cert", "renew"]])
@pytest.mark.parametrize("value, words", [
    ("/no/such/bundle.pem", ["TR4CTL_ACME_CA_BUNDLE: CA bundle /no/such/bundle.pem does not exist"]),
    ("relative/ca.pem", ["TR4CTL_ACME_CA_BUNDLE=relative/ca.pem is a relative path",
                         "tr4ctl config set TR4CTL_ACME_CA_BUNDLE=/"]),
])
def test_a_bad_acme_ca_bundle_setting_is_refused_before_docker(project, command, value, words):
    """certbot-renew mounts it: docker would make a missing path an empty directory."""
    env_text = ENV_TEXT + f"TR4CTL_ACME_CA_BUNDLE={value}\n"
    (project / ".env").write_text(env_text)
    result = tr4ctl(project, *command)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    assert (project / ".env").read_text() == env_text
    # Nothing rendered: at most the stack's lock file, taken before the pre-flight.
    assert [p.name for p in (project / ".tr4ctl").glob("*")] in ([], ["lock"])


def test_nginx_use_unknown_mode(project):
    assert_refused(project, tr4ctl(project, "nginx", "use", "staging"),
                   "unknown nginx config 'staging'")


def test_nginx_use_prod_without_domain_is_refused_before_docker(tmp_path):
    (tmp_path / ".env").write_text("TR4CTL_PROJECT_NAME=t4u-cert\n")
    result = tr4ctl(tmp_path, "nginx", "use", "prod")
    assert result.returncode == 2 and "TR4CTL_DOMAIN" in result.stderr
