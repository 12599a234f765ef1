"""Upgrading keeps a running stack running: a project made, started, seeded and backed
up by the previous release of tr4ctl (main at c69cac9, kept in tests/stack/data as the
files it shipped) is read, re-rendered and operated by this one: its .env (no database
password, no backend env file yet), state.json, volumes, backups (manifest format 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest
from conftest import docker, new_stack, own_environment

PREVIOUS = Path(__file__).parent / "data" / "previous-main-c69cac9.tar.gz"
ADMIN, FOUNDER = "admin@upgrade.test", "founder@upgrade.test"
PASSWORD = "upgrade-test-password-1"


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> Path:
    """The previous release's package and assets, importable from this folder."""
    folder = tmp_path_factory.mktemp("previous-main")
    with tarfile.open(PREVIOUS) as archive:
        archive.extractall(folder, filter="data")
    return folder


def run_previous(previous: Path, stack, *args: str, input: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(stack.project_dir),
         "--project-name", stack.name, *args], input=input, capture_output=True, text=True,
        timeout=900, cwd=previous, env={**own_environment(), "PYTHONPATH": str(previous)})
    assert result.returncode == 0, f"previous tr4ctl {args}: {result.stderr}\n{result.stdout}"
    return result.stdout


def emails(stack) -> set[str]:
    return {u["email"] for u in stack.json("users", "list")["data"]["users"]}


def test_a_project_of_the_previous_release_keeps_working(docker_engine, tmp_path_factory,
                                                          previous):
    # Settings (ports, local images) written by this version's `config set` are plain
    # .env lines the previous one reads the same way.
    stack = new_stack(tmp_path_factory, "upgrade")
    try:
        run_previous(previous, stack, "up", "--env", "dev")
        run_previous(previous, stack, "users", "seed", "--admin-email", ADMIN,
                     "--founder-email", FOUNDER, "--password-stdin",
                     input=f"{PASSWORD}\n{PASSWORD}\n")
        old_backup = json.loads(run_previous(previous, stack, "--json", "backup", "create"))
        old_archive = old_backup["data"]["path"]
        env_before = (stack.project_dir / ".env").read_text()
        assert "TR4CTL_DATABASE_PASSWORD" not in env_before

        # This version, on the running stack as the previous one left it.
        status = stack.json("status")["data"]
        assert status["condition"] == "healthy", status
        assert emails(stack) == {ADMIN, FOUNDER}
        stack.tr4ctl("up", "--env", "dev")  # re-rendered by this version, same volumes
        assert stack.json("status")["data"]["condition"] == "healthy"
        # Its containers were re-created with their logs rotated (default 10m x 3).
        for service, container in stack.container_ids().items():
            logging = json.loads(docker("inspect", "-f", "{{json .HostConfig.LogConfig}}",
                                        container))
            assert logging["Config"] == {"max-size": "10m", "max-file": "3"}, service
        assert emails(stack) == {ADMIN, FOUNDER}
        login = httpx.post(stack.url("/api/auth/login"),
                           json={"email": ADMIN, "password": PASSWORD}, timeout=30)
        assert login.status_code == 200, login.text
        assert oct((stack.project_dir / ".env").stat().st_mode & 0o777) == "0o600"

        # The previous release's backup: listed, verified, restored.
        listed = stack.json("backup", "list")["data"]
        assert old_archive in json.dumps(listed)
        stack.tr4ctl("backup", "verify", old_archive)
        stack.tr4ctl("users", "seed", "--admin-email", "later@upgrade.test",
                     "--founder-email", FOUNDER, "--password-stdin",
                     input=f"{PASSWORD}\n{PASSWORD}\n")
        stack.tr4ctl("backup", "restore", old_archive, "--yes")
        assert emails(stack) == {ADMIN, FOUNDER}

        # And a release on top of it.
        report = stack.json("deploy")["data"]
        assert report["release"]["result"] == "succeeded"
        assert stack.json("status")["data"]["condition"] == "healthy"
    finally:
        stack.tr4ctl("down", "--volumes", "--yes", check=False)
