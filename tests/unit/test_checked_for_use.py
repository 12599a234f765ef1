"""Issue 19.8: every value is checked for what it will be used for when it is given, not
accepted and then failing later. Paths exist and are of their kind, host names keep to
DNS's limits, a healthcheck interval is one Docker honours, `config validate --env prod`
refuses what `up --env prod` refuses, and replicas on SQLite are refused (on compose,
where replicas do nothing, the reply says so). Exit 2, one line, .env unchanged; the
real CLI with no engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from one_line import refused

ENV_TEXT = ("ENVIRONMENT=production\nDEBUG_MODE=false\n"
            "JWT_SECRET_KEY=0f3b8c2d9e4a7b1c6d5e8f2a3b4c9d0e1f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c\n"
            "TR4CTL_BIND_ADDRESS=127.0.0.1\nTR4CTL_HTTP_PORT=18080\nTR4CTL_HTTPS_PORT=18443\n")
PEM = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # no engine: refused before one
    return {**env, **extra}


def tr4ctl(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(project), *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=env or clean_env())


@pytest.fixture
def project(tmp_path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / ".env").write_text(ENV_TEXT)
    (directory / ".env").chmod(0o600)
    return directory


def set_refused(project: Path, assignment: str, *words: str) -> str:
    before = (project / ".env").read_bytes()
    line = refused(tr4ctl(project, "config", "set", assignment), *words)
    assert (project / ".env").read_bytes() == before
    return line


def set_accepted(project: Path, assignment: str) -> subprocess.CompletedProcess:
    result = tr4ctl(project, "config", "set", assignment)
    assert result.returncode == 0, result.stderr
    return result


# -- paths: there, and of the kind their use needs --------------------------------------
@pytest.fixture
def places(tmp_path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    empty_dir = tmp_path / "empty-dir"
    empty_dir.mkdir()
    good_templates = tmp_path / "templates"
    (good_templates / "nginx").mkdir(parents=True)
    pem = tmp_path / "ca.pem"
    pem.write_text(PEM)
    return {"missing": tmp_path / "not-there", "file": a_file, "not_pem": not_pem,
            "empty_dir": empty_dir, "templates": good_templates, "pem": pem,
            "under_file": a_file / "backups", "dangling": tmp_path / "dangling"}


@pytest.mark.parametrize("key, place, words", [
    ("TR4CTL_TEMPLATES_DIR", "missing", ["TR4CTL_TEMPLATES_DIR", "does not exist"]),
    ("TR4CTL_TEMPLATES_DIR", "file", ["TR4CTL_TEMPLATES_DIR", "not a folder: it is a regular file"]),
    ("TR4CTL_TEMPLATES_DIR", "empty_dir", ["TR4CTL_TEMPLATES_DIR", "no compose/ or nginx/"]),
    ("TR4CTL_CA_BUNDLE", "missing", ["TR4CTL_CA_BUNDLE", "does not exist"]),
    ("TR4CTL_CA_BUNDLE", "empty_dir", ["TR4CTL_CA_BUNDLE", "directory"]),
    ("TR4CTL_CA_BUNDLE", "not_pem", ["TR4CTL_CA_BUNDLE", "no PEM certificate"]),
    ("TR4CTL_ACME_CA_BUNDLE", "missing", ["TR4CTL_ACME_CA_BUNDLE", "does not exist"]),
    ("TR4CTL_ACME_CA_BUNDLE", "not_pem", ["TR4CTL_ACME_CA_BUNDLE", "no PEM certificate"]),
    ("TR4CTL_BACKUP_DIR", "file", ["TR4CTL_BACKUP_DIR", "not a folder: it is a regular file"]),
    ("TR4CTL_BACKUP_DIR", "under_file", ["TR4CTL_BACKUP_DIR", "not a folder: it is a regular file"]),
])
def test_a_path_setting_is_refused_when_it_cannot_serve(project, places, key, place, words):
    set_refused(project, f"{key}={places[place]}", *words)


@pytest.mark.parametrize("key, place", [
    ("TR4CTL_TEMPLATES_DIR", "templates"), ("TR4CTL_CA_BUNDLE", "pem"),
    ("TR4CTL_ACME_CA_BUNDLE", "pem"), ("TR4CTL_BACKUP_DIR", "missing"),
    ("TR4CTL_BACKUP_DIR", "empty_dir"),
])
def test_a_path_setting_that_serves_is_written(project, places, key, place):
    set_accepted(project, f"{key}={places[place]}")
    assert f"{key}={places[place]}" in (project / ".env").read_text()


@pytest.mark.parametrize("place", ["file", "under_file"])
def test_backup_list_names_a_backup_dir_that_is_a_file(project, places, place):
    with (project / ".env").open("a") as env:
        env.write(f"TR4CTL_BACKUP_DIR={places[place]}\n")
    refused(tr4ctl(project, "backup", "list"), "TR4CTL_BACKUP_DIR", "not a folder")
    refused(tr4ctl(project, "config", "validate"), "TR4CTL_BACKUP_DIR", "not a folder")


def test_config_validate_names_a_templates_dir_deleted_since(project, places):
    with (project / ".env").open("a") as env:
        env.write(f"TR4CTL_TEMPLATES_DIR={places['missing']}\n")
    refused(tr4ctl(project, "config", "validate"), "TR4CTL_TEMPLATES_DIR", "does not exist")


# -- host names and URLs within DNS's limits ----------------------------------------------
LONG_HOST = "a" * 10_000 + ".example.org"
LONG_LABEL = "b" * 64 + ".example.org"
LONG_NAME = ".".join(["c" * 60] * 5)  # 304 characters, each label fine


@pytest.mark.parametrize("assignment, words", [
    (f"TR4CTL_ACME_SERVER=https://{LONG_HOST}/dir", ["TR4CTL_ACME_SERVER", "more than"]),
    (f"TR4CTL_ACME_SERVER=https://{LONG_LABEL}/dir", ["TR4CTL_ACME_SERVER", "63"]),
    (f"TR4CTL_ACME_SERVER=https://{LONG_NAME}/dir", ["TR4CTL_ACME_SERVER", "253"]),
    ("TR4CTL_ACME_SERVER=https://ca.example.org/" + "p" * 3000, ["TR4CTL_ACME_SERVER", "2048"]),
    ("TR4CTL_ACME_SERVER=https://ca.example.org:99999/dir", ["TR4CTL_ACME_SERVER", "port"]),
    (f"CORS_ORIGINS=https://{LONG_HOST}", ["CORS_ORIGINS", "more than"]),
    (f"CORS_ORIGINS=https://ok.example.org,https://{LONG_LABEL}", ["CORS_ORIGINS", "63"]),
    (f"CORS_ORIGINS=https://{LONG_NAME}", ["CORS_ORIGINS", "253"]),
    (f"CHROMA_HOST={LONG_NAME}", ["CHROMA_HOST"]),
    (f"CHROMA_HOST={LONG_LABEL}", ["CHROMA_HOST", "63"]),
    (f"TR4CTL_DOMAIN={LONG_LABEL}", ["TR4CTL_DOMAIN"]),
    (f"TR4CTL_EMAIL=ops@{LONG_HOST}", ["TR4CTL_EMAIL"]),
])
def test_host_names_beyond_dns_limits_are_refused(project, assignment, words):
    line = set_refused(project, assignment, *words)
    assert len(line) < 400  # the value is named, not echoed whole


@pytest.mark.parametrize("assignment, words", [
    (f"TR4CTL_NGINX_IMAGE={LONG_HOST}/nginx:1", ["TR4CTL_NGINX_IMAGE", "more than"]),
    (f"TR4CTL_NGINX_IMAGE={LONG_LABEL}/nginx:1", ["TR4CTL_NGINX_IMAGE", "63"]),
    ("TR4CTL_CHROMA_IMAGE=chroma:" + "t" * 129, ["TR4CTL_CHROMA_IMAGE", "128"]),
    ("TR4CTL_BACKEND_BASE_IMAGE=" + "/".join(["python"] * 40), ["TR4CTL_BACKEND_BASE_IMAGE",
                                                                 "255"]),
])
def test_image_references_beyond_dockers_limits_are_refused(project, assignment, words):
    line = set_refused(project, assignment, *words)
    assert len(line) < 400


@pytest.mark.parametrize("assignment", ["TR4CTL_NGINX_IMAGE=localhost:5000/web/nginx:1.27",
                                        "TR4CTL_CHROMA_IMAGE=registry.example.org/chroma:1.5.9"])
def test_image_references_within_limits_are_written(project, assignment):
    set_accepted(project, assignment)


def test_cert_issue_server_beyond_dns_limits_is_refused(project):
    refused(tr4ctl(project, "cert", "issue", "--domain", "site.example.org", "--email",
                   "ops@example.org", "--server", f"https://{LONG_HOST}/dir"),
            "ACME server URL", "more than")


def test_a_postgres_url_host_beyond_dns_limits_is_refused(project):
    with (project / ".env").open("a") as env:
        env.write(f"TR4CTL_DATABASE=postgres\nDATABASE_URL=postgresql://app@{LONG_LABEL}/db\n")
    refused(tr4ctl(project, "config", "show"), "DATABASE_URL", "63")


# -- healthcheck interval: what Docker honours ---------------------------------------------
@pytest.mark.parametrize("value", ["0s", "0ms", "0m", "50ms", "99ms", "61s", "2m", "90000ms",
                                   "1h", "500us", "-1s", "99999999999s"])
def test_a_healthcheck_interval_docker_would_not_honour_is_refused(project, value):
    set_refused(project, f"TR4CTL_HEALTHCHECK_INTERVAL={value}", "TR4CTL_HEALTHCHECK_INTERVAL")


@pytest.mark.parametrize("value", ["100ms", "1s", "60s", "1m", "60000ms"])
def test_a_healthcheck_interval_in_range_is_written_and_rendered(project, value):
    set_accepted(project, f"TR4CTL_HEALTHCHECK_INTERVAL={value}")
    shown = json.loads(tr4ctl(project, "--json", "config", "show").stdout)["data"]
    assert f"interval: {value}\n" in shown["compose"]


# -- one rule for `config validate --env prod` and `up --env prod` -------------------------
@pytest.mark.parametrize("extra, words", [
    ("", ["--env prod needs the site's domain"]),
    ("TR4CTL_DOMAIN=site.example.org\nJWT_SECRET_KEY=changeme\n", ["--env prod needs a real secret"]),
    ("TR4CTL_DOMAIN=site.example.org\nJWT_SECRET_KEY=short\n", ["--env prod needs a real secret"]),
    ("TR4CTL_BACKEND_REPLICAS=3\n", ["TR4CTL_BACKEND_REPLICAS=3", "SQLite"]),
])
def test_validate_refuses_exactly_what_up_refuses(project, extra, words):
    with (project / ".env").open("a") as env:
        env.write(extra)
    before = (project / ".env").read_bytes()
    env = "prod" if "REPLICAS" not in extra else "dev"
    validate = refused(tr4ctl(project, "config", "validate", "--env", env), *words)
    up = refused(tr4ctl(project, "up", "--env", env), *words)
    assert validate == up
    assert (project / ".env").read_bytes() == before


# -- replicas on SQLite --------------------------------------------------------------------
@pytest.mark.parametrize("count", ["2", "3", "32"])
def test_replicas_on_sqlite_are_refused_when_set(project, count):
    set_refused(project, f"TR4CTL_BACKEND_REPLICAS={count}", "SQLite", "tr4ctl db use postgres")


def test_replicas_on_compose_say_they_apply_on_a_swarm_only(project):
    with (project / ".env").open("a") as env:
        env.write("TR4CTL_DATABASE=postgres\n")
    result = set_accepted(project, "TR4CTL_BACKEND_REPLICAS=3")
    assert "applies on a swarm only" in result.stderr
    assert "applies the change" not in result.stderr
