"""Issue 19.6: `users seed --generate --output F` writes the passwords before any account
exists. On a full disk, a read-only folder or a folder that is not there: exit 2 naming
the path, no account created, .env and the stack's containers unchanged."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import pytest

ACCOUNTS = ("--admin-email", "admin@full-disk.test", "--founder-email", "founder@full-disk.test")


@contextlib.contextmanager
def tmpfs(directory: Path, *options: str):
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=64k", *options)), "tmpfs",
                    str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def fill(directory: Path) -> None:
    """Write until the filesystem says ENOSPC."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)


@pytest.fixture
def full_disk(tmp_path):
    with tmpfs(tmp_path / "full") as directory:
        fill(directory)
        yield directory


@pytest.fixture
def read_only(tmp_path):
    with tmpfs(tmp_path / "ro", "ro") as directory:
        yield directory


@pytest.mark.parametrize("where", ["full_disk", "read_only", "missing"])
@pytest.mark.parametrize("accounts", [ACCOUNTS, (*ACCOUNTS, "--only", "admin@full-disk.test")])
def test_no_account_is_created_when_the_passwords_cannot_be_kept(dev_stack, request, tmp_path,
                                                                 where, accounts):
    directory = tmp_path / "not-there" if where == "missing" else request.getfixturevalue(where)
    output = directory / "passwords.json"
    users_before = dev_stack.json("users", "list")["data"]["users"]
    env_before = (dev_stack.project_dir / ".env").read_bytes()
    containers_before = dev_stack.container_ids()

    result = dev_stack.tr4ctl("users", "seed", *accounts, "--generate", "--output", str(output),
                              check=False)

    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(output) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()
    assert dev_stack.json("users", "list")["data"]["users"] == users_before
    assert (dev_stack.project_dir / ".env").read_bytes() == env_before
    assert dev_stack.container_ids() == containers_before
