"""Issue 19: an archive is data, never instructions. Hostile archives, crafted with
consistent sizes and sha256 (tests/hostile_archives.py), are refused by `backup verify`
and by `backup restore` with exit 2 and one line, before anything is touched; the
checks are pure (plan/archive_members.py); the extraction is confined on its own (the
second line of defence, run here on the host against a temporary folder).

The same refusals on a running stack (containers, volumes untouched): tests/stack/
test_hostile_archives.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_archives import CASES, TOKEN, craft, entry, make_good, of_another_project, tar_bytes
from one_line import one_line

from tr4ctl.docker.volumes import UNPACK_BOOTSTRAP, unpack_input
from tr4ctl.plan.archive_members import DIRECTORY, FILE, HARDLINK, SYMLINK, Member, VolumeTarCheck

# What the one line says, by the kind of case (the part after the colon).
SAYS = {
    "traversal": "'..'", "traversal-deep": "'..'", "absolute": "absolute path",
    "symlink-absolute": "a link out of the volume", "symlink-relative-out":
    "a link out of the volume", "symlink-chain-out": "a link out of the volume",
    "symlink-then-file": "written through the link", "hardlink-absolute": "a hard link to",
    "hardlink-traversal": "a hard link to", "hardlink-to-symlink": "a link out of the volume",
    "chardev": "a character device", "blockdev": "a block device", "fifo": "a FIFO",
    "larger-than-manifest": "more than the", "another-project": "names project",
    "unknown-setting": "unknown setting", "another-volume": "not one tr4ctl writes",
    "owner-option": "not uid:gid",
}
OUTER_SAYS = {"traversal": "not a part name", "absolute": "not a part name",
              "symlink": "a symbolic link", "hardlink": "a hard link"}


def cli(project_dir, *args, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(project_dir),
                           *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**environment, "COLUMNS": "2000", **(env or {})})


def tree(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None)
                  for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return make_good(tmp_path_factory.mktemp("good") / "tr4ction-backup-20250101T000000Z.tar.gz")


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".env").write_text("TR4CTL_PROJECT_NAME=tr4ction\n")
    return folder


def test_the_good_archive_verifies(good, tmp_path):
    one_line(cli(tmp_path, "backup", "verify", str(good)), 0, "is intact", "5 parts")


def says(case: str) -> str:
    where, kind = case.split(":")
    return (OUTER_SAYS.get(kind) if where == "outer" else None) or SAYS[kind]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_archive_is_refused_by_verify(good, tmp_path, case):
    archive = craft(good, tmp_path / "tr4ctl-backup-20250102T000000Z.tar.gz", case)
    one_line(cli(tmp_path, "backup", "verify", str(archive)), 2, "is refused", says(case),
             "nothing was changed")


# Every case is restored on a running stack (tests/stack/test_hostile_archives.py); here
# one of each class, to show the refusal needs no engine and writes nothing.
@pytest.mark.parametrize("case", sorted(c for c in CASES if not c.startswith(
    ("chroma_data:", "certbot_conf:"))))
def test_a_hostile_archive_is_refused_by_restore_without_an_engine(good, project, tmp_path,
                                                                   case):
    archive = craft(good, tmp_path / "tr4ction-backup-20250102T000000Z.tar.gz", case)
    before = tree(project)
    one_line(cli(project, "backup", "restore", str(archive), "--yes",
                 env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}), 2, "is refused",
             says(case), "nothing was changed")
    assert tree(project) == before
    assert not Path(f"/tmp/{TOKEN}").exists()


def test_another_projects_archive_verifies_and_is_not_restored_here(good, project, tmp_path):
    other = of_another_project(good, tmp_path / "other-backup-20250101T000000Z.tar.gz", "other")
    one_line(cli(tmp_path, "backup", "verify", str(other)), 0, "project other")
    before = tree(project)
    one_line(cli(project, "backup", "restore", str(other), "--yes"), 2,
             "the archive is of project other, this folder is project tr4ction",
             "add --as-project tr4ction")
    # The environment's project name is the folder's too: still another project.
    one_line(cli(project, "backup", "restore", str(other), "--yes",
                 env={"TR4CTL_PROJECT_NAME": "tr4ction"}), 2, "of project other")
    one_line(cli(project, "backup", "restore", str(other), "--yes", "--as-project", "other"),
             2, "--as-project other is not this folder's project (tr4ction)")
    assert tree(project) == before


# -- the pure checks: what real volumes hold passes ----------------------------------------
def check(*members: Member, limit: int = 1 << 20) -> list[str]:
    walk = VolumeTarCheck("v.tar", limit)
    for member in members:
        walk.add(member)
    return walk.problems()


def test_what_real_volumes_hold_passes():
    assert check(
        Member("./", DIRECTORY), Member("./a/", DIRECTORY), Member("./a/f", FILE, 10),
        Member("./a/g", HARDLINK, 0, "./a/f"),
        Member("./live/x/cert.pem", SYMLINK, 0, "../../archive/x/cert1.pem"),  # dangling
        Member("./here", SYMLINK, 0, "."), Member("./up", SYMLINK, 0, "a/.."),
        Member("./b/c", SYMLINK, 0, "../a/f"), Member("./chain", SYMLINK, 0, "b/c"),
        Member("./a/long/..dots", FILE, 1),
    ) == []


@pytest.mark.parametrize("members, says", [
    ([Member("./d/l", SYMLINK, 0, ".."), Member("./x", SYMLINK, 0, "d/l/..")], "x: a link out"),
    ([Member("./a", SYMLINK, 0, "b"), Member("./b", SYMLINK, 0, "a")], "a link out"),  # a loop
    ([Member("./a", SYMLINK, 0, "b/../.."), Member("./b/", DIRECTORY)], "a: a link out"),
    ([Member("./f", FILE, 5), Member("./f", SYMLINK, 0, "g")], "appears twice"),
    ([Member("./", SYMLINK, 0, "/")], "in place of the volume itself"),
    ([Member("./h", HARDLINK, 0, "./later"), Member("./later", FILE, 1)], "not a file earlier"),
    ([Member("./f", FILE, 600), Member("./g", FILE, 600)], "its files hold 1200 bytes"),
    ([Member("./x", "type 'V'")], "an entry of type 'V'"),
    ([Member("./bad\nname", "fifo"), Member("/x", FILE, 1)], "./bad\\nname: a FIFO"),
])
def test_what_no_volume_holds_is_named(members, says):
    found = check(*members, limit=1000)
    assert found and says in " ".join(found), found
    assert all("\n" not in line for line in found)


def test_problems_are_capped():
    found = check(*[Member(f"/abs{i}", FILE, 1) for i in range(100)])
    assert len(found) == 21 and found[-1] == "v.tar: 80 more problems"


# -- the second line of defence: the extraction itself is confined -------------------------
def unpack(data: bytes, root) -> subprocess.CompletedProcess:
    source = unpack_input(io.BytesIO(data))
    stdin = b"".join(iter(lambda: source.read(777), b""))  # in pieces, as the runner feeds it
    return subprocess.run([sys.executable, "-c", UNPACK_BOOTSTRAP, str(root)], input=stdin,
                          capture_output=True, timeout=60, check=False)


@pytest.fixture
def places(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("outside the volume\n")
    root = tmp_path / "volume"
    root.mkdir()
    return root, outside


def hostile_members(outside) -> dict[str, list]:
    """The same classes as the archive cases, aimed at a folder of the test."""
    return {
        "traversal": [entry("./../outside/new")],
        "absolute": [entry(f"{outside}/new")],
        "symlink-absolute": [entry("./evil", "symlink", linkname=str(outside)),
                             entry("./evil/new")],
        "symlink-relative": [entry("./evil", "symlink", linkname="../outside"),
                             entry("./evil/new")],
        # Each link inside when made; once d/l is there, x leads out (the finished tree
        # is checked again), and so does a write through x.
        "symlink-chain": [entry("./x", "symlink", linkname="d/l/.."), entry("./d/", "dir"),
                          entry("./d/l", "symlink", linkname="..")],
        "symlink-chain-write": [entry("./x", "symlink", linkname="d/l/.."),
                                entry("./d/", "dir"), entry("./d/l", "symlink", linkname=".."),
                                entry("./x/outside/new")],
        "hardlink-out": [entry("./evil", "hardlink", linkname=f"{outside}/secret")],
        "hardlink-traversal": [entry("./evil", "hardlink", linkname="../outside/secret")],
        "chardev": [entry("./evil", "chardev")],
        "fifo": [entry("./evil", "fifo")],
    }


@pytest.mark.parametrize("case", sorted(hostile_members("/x")))
def test_the_extraction_refuses_on_its_own(places, case):
    root, outside = places
    members = [entry("./", "dir"), entry("./ok.txt"), *hostile_members(outside)[case]]
    result = unpack(tar_bytes(members), root)
    assert result.returncode == 3, result.stderr
    assert b"refused" in result.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "outside the volume\n"
    for path in root.rglob("*"):
        assert not path.is_symlink() or path.resolve().is_relative_to(root.resolve()), path
        assert path.is_dir() or path.is_file() or path.is_symlink(), path


def test_the_extraction_keeps_what_tar_keeps(places):
    root, _ = places
    members = [entry("./", "dir"), entry("./a/", "dir"), entry("./a/f", data=b"payload\n"),
               entry("./a/g", "hardlink", linkname="./a/f"),
               entry("./live", "symlink", linkname="a/f"), entry("./ro/", "dir")]
    members[2][0].mode, members[2][0].mtime = 0o4640, 1_000_000_000
    members[5][0].mode = 0o555
    result = unpack(tar_bytes(members), root)
    assert result.returncode == 0, result.stderr
    assert (root / "a" / "f").read_bytes() == b"payload\n"
    assert (root / "a" / "f").stat().st_nlink == 2
    assert oct((root / "a" / "f").stat().st_mode & 0o7777) == "0o4640"
    assert (root / "a" / "f").stat().st_mtime == 1_000_000_000
    assert oct((root / "ro").stat().st_mode & 0o777) == "0o555"
    assert os.readlink(root / "live") == "a/f"


# -- the .env a restore writes (the action, without an engine) -----------------------------
def prepared(folder, archived: str, current: str | None, monkeypatch, **environment):
    from tr4ctl.actions.backup.archive import VerifyResult
    from tr4ctl.actions.backup.restore import prepare_env
    from tr4ctl.output import Output
    from tr4ctl.plan.backup import Manifest
    from tr4ctl.runtime import Runtime

    for key in [k for k in os.environ if k.startswith("TR4CTL_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    if current is not None:
        (folder / ".env").write_text(current)
    manifest = Manifest(kind="backup", project="theirs", created_at="x", tr4ctl_version="x",
                        env="dev", parts=[])
    rt = Runtime(project_dir=folder, out=Output())
    return prepare_env(rt, VerifyResult(manifest, [], [], archived.encode()))


ARCHIVED_ENV = ("# the archive's\nTR4CTL_PROJECT_NAME=theirs\nTR4CTL_HTTP_PORT=80\n"
                "TR4CTL_BIND_ADDRESS=0.0.0.0\nTR4CTL_TEMPLATES_DIR=/var/lib/docker/volumes/x\n"
                f"JWT_SECRET_KEY={'s' * 40}\n")


def test_the_env_written_keeps_this_folders_identity(tmp_path, monkeypatch):
    env = prepared(tmp_path, ARCHIVED_ENV, "TR4CTL_PROJECT_NAME=mine\nTR4CTL_HTTP_PORT=8080\n"
                   "TR4CTL_BIND_ADDRESS=127.0.0.1\n", monkeypatch)
    assert env.text.decode() == ("# the archive's\nTR4CTL_PROJECT_NAME=mine\n"
                                 "TR4CTL_HTTP_PORT=8080\nTR4CTL_BIND_ADDRESS=127.0.0.1\n"
                                 f"JWT_SECRET_KEY={'s' * 40}\n")
    assert env.rewrite.not_taken == {
        "TR4CTL_PROJECT_NAME": "theirs", "TR4CTL_HTTP_PORT": "80",
        "TR4CTL_BIND_ADDRESS": "0.0.0.0", "TR4CTL_TEMPLATES_DIR": "/var/lib/docker/volumes/x"}


def test_an_empty_folder_is_the_project_it_is_run_as(tmp_path, monkeypatch):
    env = prepared(tmp_path, ARCHIVED_ENV, None, monkeypatch, TR4CTL_PROJECT_NAME="mine")
    text = env.text.decode()
    assert "TR4CTL_PROJECT_NAME=mine\n" in text and "theirs" not in text
    assert "TR4CTL_TEMPLATES_DIR" not in text
    assert "TR4CTL_HTTP_PORT=80\n" in text  # a new host's folder takes where it listens


def test_the_same_projects_env_is_written_byte_for_byte(tmp_path, monkeypatch):
    same = ARCHIVED_ENV.replace("TR4CTL_TEMPLATES_DIR=/var/lib/docker/volumes/x\n", "")
    env = prepared(tmp_path, same, same, monkeypatch)
    assert env.text == same.encode() and not env.rewrite.changes
