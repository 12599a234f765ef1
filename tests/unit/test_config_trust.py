"""Configuration you can trust: every bad value refused with one line and exit 2, from
every source, and .env byte-for-byte unchanged (the real CLI, no Docker needed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from one_line import refused

from tr4ctl.config.envfile import with_values
from tr4ctl.config.load import parse_env_text, resolve
from tr4ctl.errors import BadInput
from tr4ctl.plan.masking import secret_in_value, shown


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HTTP_PORT, HTTPS_PORT = free_port(), free_port()
ENV_TEXT = ("# made by tr4ctl init\nENVIRONMENT=production\nDEBUG_MODE=false\n"
            "JWT_SECRET_KEY=0f3b8c2d9e4a7b1c6d5e8f2a3b4c9d0e1f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c\n"
            "ACCESS_TOKEN_EXPIRE_MINUTES=60\nCORS_ORIGINS=https://a.example.test\n"
            f"TR4CTL_BIND_ADDRESS=127.0.0.1\nTR4CTL_HTTP_PORT={HTTP_PORT}\n"
            f"TR4CTL_HTTPS_PORT={HTTPS_PORT}\n")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    # No engine: these checks must all happen before any docker call.
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    return {**env, **extra}


def tr4ctl(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(project), *args],
                          capture_output=True, text=True, timeout=60,
                          env=env or clean_env())


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / ".env").write_text(ENV_TEXT)
    (tmp_path / ".env").chmod(0o600)
    return tmp_path


@pytest.mark.parametrize("assignment, words", [
    ("TR4CTL_DOMAIN=a.example.com\nJWT_SECRET_KEY=x", ["a newline"]),
    ("TR4CTL_HTTP_PORT=8080\nTR4CTL_HTTP_PORT=0", ["a newline"]),
    ("TR4CTL_HTTP_PORT=0", ["TR4CTL_HTTP_PORT", "between 1 and 65535"]),
    ("TR4CTL_DOMAIN=bad!domain", ["TR4CTL_DOMAIN", "not a DNS name"]),
    ("TR4CTL_DOMAIN=localhost", ["TR4CTL_DOMAIN", "at least one dot"]),
    ("TR4CTL_EMAIL=nope", ["TR4CTL_EMAIL", "not an email"]),
    ("TR4CTL_ACME_SERVER=ftp://ca.example.test/dir", ["TR4CTL_ACME_SERVER"]),
    ("TR4CTL_ACME_SERVER=http://ca.example.test/dir", ["HTTPS"]),
    ("ENVIRONMENT=staging", ["ENVIRONMENT", "development, production"]),
    ("DEBUG_MODE=maybe", ["DEBUG_MODE", "true or false"]),
    ("CORS_ORIGINS=*", ["CORS_ORIGINS", "every site"]),
    ("CORS_ORIGINS=https://a.test/path", ["CORS_ORIGINS", "no path"]),
    ("BCRYPT_ROUNDS=99", ["BCRYPT_ROUNDS", "between 4 and 16"]),
    ("TR4CTL_HTTP_PROT=9090", ["unknown setting TR4CTL_HTTP_PROT", "did you mean TR4CTL_HTTP_PORT"]),
    ("tr4ctl_http_port=9090", ["unknown setting", "did you mean TR4CTL_HTTP_PORT"]),
    (f"TR4CTL_HTTPS_PORT={HTTP_PORT}", [f"both {HTTP_PORT}"]),
    ("TR4CTL_BIND_ADDRESS=999.1.1.1", ["TR4CTL_BIND_ADDRESS", "IP address"]),
    ("TR4CTL_BIND_ADDRESS=10.9.9.9", ["10.9.9.9 is not an address of this host"]),
    ("JWT_SECRET_KEY=abc", ["secret", "argv"]),
    ("DATABASE_URL=postgresql://u:hunter2@db/x", ["looks like a secret", "password"]),
    ("TR4CTL_BACKEND_IMAGE=Zq8vR2mN7xK4pL9sT3wY6bH1cF5gJ0dA", ["looks like a secret"]),
    ("TR4CTL_PROJECT_NAME=Bad Name", ["TR4CTL_PROJECT_NAME"]),
])
def test_config_set_refuses_and_leaves_env_unchanged(project, assignment, words):
    before = (project / ".env").read_bytes()
    line = refused(tr4ctl(project, "config", "set", assignment), *words)
    assert (project / ".env").read_bytes() == before
    assert "hunter2" not in line


def test_the_value_written_is_checked_even_when_the_environment_overrides_it(project):
    before = (project / ".env").read_bytes()
    refused(tr4ctl(project, "config", "set", "TR4CTL_HTTP_PORT=0",
                   env=clean_env(TR4CTL_HTTP_PORT=str(free_port()))), "TR4CTL_HTTP_PORT")
    assert (project / ".env").read_bytes() == before


def test_the_environment_winning_over_what_was_written_is_said(project):
    result = tr4ctl(project, "config", "set", f"TR4CTL_HTTP_PORT={free_port()}",
                    env=clean_env(TR4CTL_HTTP_PORT=str(free_port())))
    assert result.returncode == 0, result.stderr
    assert "TR4CTL_HTTP_PORT is also set in the environment, which wins" in result.stderr


@pytest.mark.parametrize("line, words", [
    ("TR4CTL_HTTP_PROT=9090", ["line 10", "unknown setting TR4CTL_HTTP_PROT",
                               "did you mean TR4CTL_HTTP_PORT"]),
    ("CORS_ORIGIN=https://a.test", ["unknown setting CORS_ORIGIN", "did you mean CORS_ORIGINS"]),
    ("DEBUG_MODE=maybe", ["DEBUG_MODE", "line 10", "true or false"]),
    ("TR4CTL_DOMAIN=bad!domain", ["TR4CTL_DOMAIN", "line 10"]),
])
def test_a_bad_line_in_env_is_named_by_every_command(project, line, words):
    with (project / ".env").open("a") as env:
        env.write(line + "\n")
    for args in (["config", "show"], ["config", "validate"], ["up"]):
        refused(tr4ctl(project, *args), *words)
    # doctor reports every check: this one fails and names the fix.
    doctor = json.loads(tr4ctl(project, "--json", "doctor").stdout)["data"]["checks"]
    said = f"{doctor[0]['detail']} ({doctor[0]['fix']})"
    assert not doctor[0]["ok"] and all(word in said for word in words)


def test_a_bad_value_in_the_environment_is_named_with_its_source(project):
    result = tr4ctl(project, "config", "show", env=clean_env(TR4CTL_DOMAIN="bad!domain"))
    refused(result, "TR4CTL_DOMAIN", "in the environment", "unset")
    result = tr4ctl(project, "config", "show", env=clean_env(TR4CTL_HTTP_PROT="9090"))
    refused(result, "unknown setting TR4CTL_HTTP_PROT in the environment", "TR4CTL_HTTP_PORT")


@pytest.mark.parametrize("key, value", [
    ("TR4CTL_BACKUP_DIR", "/srv/back ups # weekly"),
    ("TR4CTL_BACKUP_DIR", "/srv/it's here"),
    ("TR4CTL_BACKUP_DIR", "/srv/$HOME/x"),
    ("TR4CTL_DOMAIN", "api.example.test"),
    ("CORS_ORIGINS", "https://a.example.test,https://b.example.test:8443"),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "90"),
])
def test_a_value_set_is_shown_back_exactly(project, key, value):
    assert tr4ctl(project, "config", "set", f"{key}={value}").returncode == 0
    shown_back = json.loads(tr4ctl(project, "--json", "config", "show").stdout)["data"]
    assert str(shown_back["settings"][key]) == value
    assert shown_back["sources"][key] == ".env"


def test_show_gives_effective_values_and_sources_and_masks_by_secrecy(project):
    with (project / ".env").open("a") as env:
        env.write("TR4CTL_DATABASE=postgres\nDATABASE_URL=postgresql://app:hunter2@db/tr4ction\n")
    result = tr4ctl(project, "--json", "config", "show", "--env", "dev",
                    env=clean_env(TR4CTL_DOMAIN="api.example.test"))
    data = json.loads(result.stdout)["data"]
    settings, sources = data["settings"], data["sources"]
    # .env says production; the dev stack runs development, and says who decides it.
    assert settings["ENVIRONMENT"] == "development"
    assert sources["ENVIRONMENT"] == "set by `tr4ctl up --env dev`"
    assert settings["TR4CTL_DOMAIN"] == "api.example.test"
    assert sources["TR4CTL_DOMAIN"] == "environment"
    assert sources["TR4CTL_HTTP_PORT"] == ".env" and sources["TR4CTL_EMAIL"] == "default"
    assert settings["JWT_SECRET_KEY"] == "****"
    assert settings["DATABASE_URL"] == "postgresql://app:****@db/tr4ction"
    assert settings["ACCESS_TOKEN_EXPIRE_MINUTES"] == "60"  # a number, not a token
    assert "hunter2" not in result.stdout + result.stderr
    assert "0f3b8c2d9e4a" not in result.stdout


def test_impossible_project_dirs_are_bad_input(tmp_path):
    regular = tmp_path / "a-file"
    regular.write_text("x")
    for where in (regular / "project", Path("/proc/tr4ctl-no-such/x")):
        refused(tr4ctl(where, "config", "set", "TR4CTL_HTTP_PORT=8080"),
                f"cannot use {where} as the project dir")
    refused(tr4ctl(regular, "config", "set", "TR4CTL_HTTP_PORT=8080"), "is a file")


def test_a_typo_in_a_folder_option_is_not_an_empty_result(project):
    refused(tr4ctl(project, "backup", "list", "--dir", "/nonexistent/backups"),
            "/nonexistent/backups is not a directory")
    refused(tr4ctl(project, "config", "show", env=clean_env(TR4CTL_TEMPLATES_DIR="/nonexistent")),
            "TR4CTL_TEMPLATES_DIR /nonexistent is not a folder")


def test_dotenv_quoting_round_trips():
    for value in ["plain", "a b # c", "it's", 'a"b', "x$y", "back\\slash", ""]:
        text = with_values("A=1\n", {"TR4CTL_BACKUP_DIR": value})
        assert parse_env_text(text, Path(".env")).values["TR4CTL_BACKUP_DIR"] == value
    with pytest.raises(ValueError):
        with_values("", {"K": "it's $HOME"})


def test_a_key_written_twice_is_written_once():
    text = with_values("TR4CTL_HTTP_PORT=1\nX=2\nTR4CTL_HTTP_PORT=3\n", {"TR4CTL_HTTP_PORT": "9"})
    assert text == "TR4CTL_HTTP_PORT=9\nX=2\n"


def test_resolution_is_pure_and_checks_every_source():
    file = parse_env_text("TR4CTL_HTTP_PORT=0\n", Path(".env"))
    with pytest.raises(BadInput, match="line 1"):
        resolve(file, {"TR4CTL_HTTP_PORT": "8080"}, {})
    config = resolve(parse_env_text("TR4CTL_HTTP_PORT=8081\n", Path(".env")),
                     {"TR4CTL_HTTP_PORT": "8080"}, {"TR4CTL_PROJECT_NAME": "p"})
    assert config.http_port == 8080 and config.source("TR4CTL_HTTP_PORT") == "environment"
    assert config.project_name == "p" and config.source("TR4CTL_PROJECT_NAME") == "--project-name"


def test_secrets_are_recognised_by_what_they_are():
    assert secret_in_value("postgresql://u:pw@db/x")
    assert secret_in_value("0f3b8c2d9e4a7b1c6d5e8f2a3b4c9d0e")
    assert secret_in_value("abc", ("abc",))
    assert not secret_in_value("my-company-production-stack-2024-x")
    assert not secret_in_value("tr4ctl-local/python:3.11-bookworm")
    assert shown("ACCESS_TOKEN_EXPIRE_MINUTES", "60") == "60"
    assert shown("JWT_SECRET_KEY", "whatever") == "****"


def test_the_database_setting_and_the_url_agree(project):
    with (project / ".env").open("a") as env:
        env.write("DATABASE_URL=postgresql+psycopg://tr4ction@postgres:5432/tr4ction\n")
    refused(tr4ctl(project, "config", "show"), "DATABASE_URL is a postgres database",
            "tr4ctl db use")


@pytest.mark.parametrize("args, words", [
    (["up", "--target", ""], ["TR4CTL_TARGET", "--target"]),
    (["--project-name", "", "status"], ["TR4CTL_PROJECT_NAME", "--project-name"]),
    (["deploy", "--image", ""], ["--image", "not an image reference"]),
    (["deploy", "--image", "bad ref!"], ["--image", "not an image reference"]),
    (["deploy", "--image", "tr4ction/backend:2", "--build"], ["--build and --image"]),
])
def test_an_empty_or_malformed_option_is_refused_before_the_engine(project, args, words):
    """Given as '' is given: not a fallback to the default (no engine here, so the refusal
    comes before any docker call)."""
    env_before = (project / ".env").read_bytes()
    refused(tr4ctl(project, *args), *words)
    assert (project / ".env").read_bytes() == env_before
