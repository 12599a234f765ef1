"""Files an operator names are checked for what they are before they are read: a FIFO,
a device, a directory or an oversized file is exit 2 naming the path and what it is,
answered at once (a FIFO is never waited on, /dev/zero never read without end), with
.env byte for byte unchanged. Through the real CLI, no Docker engine."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from one_line import refused

ENV_TEXT = ("ENVIRONMENT=production\nDEBUG_MODE=false\n"
            "JWT_SECRET_KEY=0f3b8c2d9e4a7b1c6d5e8f2a3b4c9d0e1f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c\n"
            "TR4CTL_BIND_ADDRESS=127.0.0.1\nTR4CTL_HTTP_PORT=18080\nTR4CTL_HTTPS_PORT=18443\n")

# Far more than any answer needs, far less than "forever": a hang fails the test.
TIMEOUT = 20


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # no engine: refused before one
    return {**env, **extra}


def tr4ctl(project: Path, *args: str, stdin=subprocess.DEVNULL, env: dict | None = None
           ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(project), *args],
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=stdin,
                          env=env or clean_env())


@pytest.fixture
def project(tmp_path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / ".env").write_text(ENV_TEXT)
    (directory / ".env").chmod(0o600)
    return directory


def make_special(path: Path, kind: str) -> str:
    """A file of `kind` at `path`; returns the words the refusal must use."""
    if kind == "fifo":
        os.mkfifo(path)
        return "FIFO"
    if kind == "zero":
        path.symlink_to("/dev/zero")
        return "character device"
    if kind == "null":
        path.symlink_to("/dev/null")
        return "character device"
    if kind == "directory":
        path.mkdir()
        return "directory"
    if kind == "huge":
        with path.open("wb") as handle:  # sparse: no disk used
            handle.truncate(64 * 1024 * 1024)
        return "bytes, more than"
    raise AssertionError(kind)


SPECIAL = ["fifo", "zero", "null", "directory"]


def snapshot(path: Path) -> tuple[int, bytes | None]:
    info = os.lstat(path)
    return info.st_mode, (path.read_bytes() if stat.S_ISREG(info.st_mode) else None)


@pytest.mark.parametrize("kind", [*SPECIAL, "huge"])
@pytest.mark.parametrize("args", [["config", "show"], ["config", "set", "TR4CTL_HTTP_PORT=8181"],
                                  ["config", "validate"], ["status"], ["up"]])
def test_an_env_that_is_not_a_regular_file_is_refused_untouched(tmp_path, kind, args):
    project = tmp_path / "project"
    project.mkdir()
    words = make_special(project / ".env", kind)
    before = snapshot(project / ".env")
    line = refused(tr4ctl(project, *args), str(project / ".env"), words)
    assert "Traceback" not in line
    # Not chmod'ed, not replaced: the same kind of file with the same mode.
    assert snapshot(project / ".env") == before


@pytest.mark.parametrize("kind", [*SPECIAL, "huge"])
def test_users_seed_file_must_be_a_regular_file(project, tmp_path, kind):
    env_before = (project / ".env").read_bytes()
    accounts = tmp_path / "accounts.json"
    words = make_special(accounts, kind)
    result = tr4ctl(project, "users", "seed", "--file", str(accounts), "--generate",
                    "--output", str(tmp_path / "passwords.json"))
    if kind == "directory":  # refused by the option's own parsing (dir_okay=False)
        assert result.returncode == 2 and "directory" in result.stderr, result.stderr
    else:
        refused(result, "--file", str(accounts), words)
    assert (project / ".env").read_bytes() == env_before
    assert not (tmp_path / "passwords.json").exists()


def test_password_stdin_is_read_to_a_bound(project, tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text('[{"email": "a@example.org", "role": "admin"}]')
    with open("/dev/zero", "rb") as zero:
        result = tr4ctl(project, "users", "seed", "--file", str(accounts), "--password-stdin",
                        stdin=zero)
    refused(result, "--password-stdin", "more than")


@pytest.mark.parametrize("kind", ["fifo", "zero", "huge"])
def test_a_baseline_must_be_a_regular_file(project, tmp_path, kind):
    baseline = tmp_path / "baseline.json"
    words = make_special(baseline, kind)
    refused(tr4ctl(project, "health", "--baseline", str(baseline)), "baseline", str(baseline),
            words)


@pytest.mark.parametrize("kind", [*SPECIAL, "huge"])
def test_a_ca_bundle_must_be_a_regular_file(project, tmp_path, kind):
    before = (project / ".env").read_bytes()
    bundle = tmp_path / "ca.pem"
    words = make_special(bundle, kind)
    refused(tr4ctl(project, "cert", "issue", "--domain", "site.example.org", "--email",
                   "ops@example.org", "--server", "https://ca.example.org/dir",
                   "--ca-bundle", str(bundle)), "CA bundle", words)
    assert (project / ".env").read_bytes() == before


@pytest.mark.parametrize("kind", ["fifo", "zero", "huge"])
def test_a_template_must_be_a_regular_file(project, tmp_path, kind):
    templates = tmp_path / "templates"
    (templates / "nginx").mkdir(parents=True)
    words = make_special(templates / "nginx" / "site.conf.j2", kind)
    env = clean_env(TR4CTL_TEMPLATES_DIR=str(templates))
    refused(tr4ctl(project, "config", "show", env=env), "template", words)


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("command", [["backup", "verify"], ["backup", "restore", "--yes"]])
def test_a_backup_archive_path_must_be_a_regular_file(project, tmp_path, kind, command):
    before = (project / ".env").read_bytes()
    archive = tmp_path / "tr4ction-backup-20250101T000000Z.tar.gz"
    make_special(archive, kind)
    result = tr4ctl(project, *command[:2], str(archive), *command[2:])
    refused(result, str(archive))
    assert (project / ".env").read_bytes() == before
