"""Issue 19 on a real engine: an archive is data, never instructions.

One running stack for the module, seeded with an account and a file in two volumes,
and backed up once. Every hostile archive (tests/hostile_archives.py: crafted from that
backup with consistent sizes and sha256) is refused by `backup verify` and by `backup
restore` with exit 2 and one line, before anything stops: the containers keep their
ids and StartedAt, no helper ran, no safety backup was written, the project folder
is as it was, and at the end the volumes and accounts are unchanged. Then an archive
of another project is restored into this one only with --as-project, and the folder
keeps its project name, volumes, network and host settings.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import docker, free_port, running_stack
from hostile_archives import CASES, TOKEN, craft, of_another_project
from one_line import one_line

from tr4ctl.docker.volumes import REPLACE_DATABASE

ACCOUNT = {"email": "kept@hostile.test", "role": "founder", "password": "kept-password-123"}
MARKER = "tr4ctl-test/marker.txt"


def helper_image(stack) -> str:
    for line in (stack.project_dir / ".env").read_text().splitlines():
        if line.startswith("TR4CTL_BACKEND_BASE_IMAGE="):
            return line.split("=", 1)[1]
    return "python:3.11-slim"


def in_volume(stack, volume_key: str, *command: str, input: bytes | None = None,
              check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", "-i", "--network", "none", "-v",
                           f"{stack.name}_{volume_key}:/v", "--entrypoint", command[0],
                           helper_image(stack), *command[1:]], input=input,
                          capture_output=True, check=check)


def put_file(stack, volume_key: str, name: str, data: bytes) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    in_volume(stack, volume_key, "tar", "-xf", "-", "-C", "/v", input=buffer.getvalue())


def listing(stack, volume_key: str) -> list[str]:
    """Every entry of the volume with its type, owner, mode, size, link and sha256 (the
    live SQLite files aside: the backend writes them while it serves)."""
    script = ("cd /v && find . ! -name 'tr4ction.db*' -printf '%p %y %U:%G %m %s %l\\n' "
              "| sort && find . -type f ! -name 'tr4ction.db*' -exec sha256sum {} + | sort")
    return in_volume(stack, volume_key, "sh", "-c", script).stdout.decode().splitlines()


def accounts(stack) -> set[str]:
    listed = stack.compose_exec("backend", "python3", "-m", "app.manage", "list-users")
    return {user["email"] for user in json.loads(listed)}


def containers(stack) -> dict[str, str]:
    """Each container of the project (stopped ones too): its state and StartedAt."""
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.name}").split()
    assert ids
    shown = docker("inspect", "-f", "{{.Id}} {{.State.Status}} {{.State.StartedAt}}", *ids)
    return {line.split()[0]: line for line in shown.splitlines()}


def folder(stack) -> list[tuple[str, bytes | None]]:
    root = stack.project_dir
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None)
                  for p in root.rglob("*") if p.name != "lock")


def outside(stack) -> dict:
    """What a restore that went further would have left: helpers, volumes, networks or
    containers of another project, files named after the token."""
    return {
        "helpers": docker("ps", "-aq", "--filter", f"label=io.tr4ctl.project={stack.name}",
                          "--filter", "label=io.tr4ctl.role=backup-helper").split(),
        "volumes": sorted(v for v in docker("volume", "ls", "--format", "{{.Name}}").split()
                          if v.startswith(stack.name)),
        "networks": sorted(n for n in docker("network", "ls", "--format", "{{.Name}}").split()
                           if n.startswith(stack.name)),
        "other": docker("ps", "-aq", "--filter",
                        f"label=com.docker.compose.project={stack.name}-other").split(),
        "token": [p for p in (Path("/tmp"), Path("/etc")) if (p / TOKEN).exists()],
    }


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    with running_stack(tmp_path_factory, "hostile") as stack:
        stack.compose_exec("backend", "python3", "-m", "app.manage", "seed",
                           input=json.dumps({"accounts": [ACCOUNT]}))
        put_file(stack, "backend_data", MARKER, b"placed before the backup\n")
        put_file(stack, "certbot_conf", MARKER, b"certbot's, before the backup\n")
        stack.good = Path(stack.json("backup", "create")["data"]["path"])
        stack.volumes_before = {key: listing(stack, key)
                                for key in ("backend_data", "certbot_conf")}
        stack.accounts_before = accounts(stack)
        yield stack


@pytest.fixture(scope="module")
def untouched(stack):
    """What no refused restore may change, taken once."""
    return {"containers": containers(stack), "folder": folder(stack), "outside": outside(stack)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_archive_is_refused_before_anything_stops(stack, untouched, tmp_path, case):
    archive = craft(stack.good, tmp_path / f"{stack.name}-backup-20250102T000000Z.tar.gz", case)
    one_line(stack.tr4ctl("backup", "verify", str(archive), check=False, env={"COLUMNS": "2000"}),
             2, "is refused", "nothing was changed")
    one_line(stack.tr4ctl("backup", "restore", str(archive), "--yes", check=False,
                          env={"COLUMNS": "2000"}), 2, "is refused", "nothing was changed")
    assert containers(stack) == untouched["containers"]
    assert folder(stack) == untouched["folder"]
    assert outside(stack) == untouched["outside"]


def test_the_volumes_and_accounts_are_as_they_were(stack, untouched):
    assert {key: listing(stack, key) for key in stack.volumes_before} == stack.volumes_before
    assert accounts(stack) == stack.accounts_before
    assert containers(stack) == untouched["containers"]


def test_the_database_is_never_written_through_a_link(stack):
    """The second line of defence of the database part: its folder must resolve inside
    the volume (a scratch volume of the stack's, removed after)."""
    volume = f"{stack.name}_scratch"
    docker("volume", "create", volume)
    try:
        def run(path: str) -> subprocess.CompletedProcess:
            return subprocess.run(["docker", "run", "--rm", "-i", "--network", "none", "-v",
                                   f"{volume}:/v", "--entrypoint", "sh", helper_image(stack),
                                   "-c", REPLACE_DATABASE, "sh", path, "0:0", "600"],
                                  input=b"SQLite", capture_output=True, check=False)
        subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{volume}:/v",
                        "--entrypoint", "sh", helper_image(stack), "-c",
                        "ln -s /etc /v/out && ln -s ../.. /v/up && mkdir /v/in"], check=True)
        for path in ("out/tr4ction.db", "up/tr4ction.db"):
            refused = run(path)
            assert refused.returncode == 3, refused.stderr
            assert b"leads out of the volume" in refused.stderr
        assert run("in/tr4ction.db").returncode == 0
    finally:
        docker("volume", "rm", volume, check=False)


def test_another_projects_archive_is_restored_only_as_this_project(stack, untouched, tmp_path):
    env_file = stack.project_dir / ".env"
    env_before = env_file.read_text()
    other = f"{stack.name}-other"
    archive = of_another_project(
        stack.good, tmp_path / f"{other}-backup-20250102T000000Z.tar.gz", other,
        TR4CTL_HTTP_PORT=str(free_port()), TR4CTL_BIND_ADDRESS="0.0.0.0",
        TR4CTL_TEMPLATES_DIR=f"/tmp/{TOKEN}")
    stack.tr4ctl("backup", "verify", str(archive))  # consistent: it is another project's
    one_line(stack.tr4ctl("backup", "restore", str(archive), "--yes", check=False,
                          env={"COLUMNS": "2000"}), 2,
             f"the archive is of project {other}, this folder is project {stack.name}",
             f"add --as-project {stack.name}")
    assert containers(stack) == untouched["containers"]

    # Data that must go: an account and a file made after the backup.
    stack.compose_exec("backend", "python3", "-m", "app.manage", "seed", input=json.dumps(
        {"accounts": [{**ACCOUNT, "email": "after@hostile.test"}]}))
    put_file(stack, "backend_data", "after.txt", b"after the backup\n")

    restored = stack.tr4ctl("backup", "restore", str(archive), "--yes", "--as-project",
                            stack.name, env={"COLUMNS": "2000"})
    assert f"with project {other}'s backup" in restored.stderr
    assert "not taken from the archive's .env" in restored.stderr
    assert f"TR4CTL_PROJECT_NAME={other}" in restored.stderr
    # The folder is still this project, with this host's settings.
    env_after = env_file.read_text()
    for key in ("TR4CTL_PROJECT_NAME", "TR4CTL_HTTP_PORT", "TR4CTL_BIND_ADDRESS"):
        assert [line for line in env_after.splitlines() if line.startswith(key + "=")] == \
               [line for line in env_before.splitlines() if line.startswith(key + "=")]
    assert "TR4CTL_TEMPLATES_DIR" not in env_after
    assert stack.json("status")["data"]["condition"] == "healthy"
    # Its data, in this project's volumes; nothing of the other project exists.
    assert accounts(stack) == stack.accounts_before
    assert in_volume(stack, "backend_data", "cat", f"/v/{MARKER}").stdout == \
        b"placed before the backup\n"
    assert in_volume(stack, "backend_data", "test", "-e", "/v/after.txt",
                     check=False).returncode == 1
    assert not [v for v in docker("volume", "ls", "--format", "{{.Name}}").split()
                if v.startswith(other)]
    assert not docker("network", "ls", "-q", "--filter", f"name={other}").split()
    assert not docker("ps", "-aq", "--filter",
                      f"label=com.docker.compose.project={other}").split()
