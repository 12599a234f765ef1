"""The archive file without Docker: written atomically and private, verified byte for
byte, refused when damaged, truncated, tampered with or too new; and the CLI's one line
and exit code for each."""

import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile

import pytest

from tr4ctl.actions.backup.archive import read_manifest, stream_parts, verify_archive, write_archive
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.plan.backup import (
    DATABASE_PART,
    ENV_PART,
    FORMAT_VERSION,
    KIND_BACKUP,
    MANIFEST_NAME,
    Manifest,
    Part,
)


def volume_tar(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A volume as tar(1) writes one (`-C /v .`): the root, folders, files, links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        folders = {"."} | {"./" + "/".join(name.split("/")[:i])
                           for name in [*files, *(links or {})]
                           for i in range(1, name.count("/") + 1)}
        for folder in sorted(folders):
            info = tarfile.TarInfo(folder + "/" if folder != "." else "./")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.uid, info.gid = len(data), 10001, 10001
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"./{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


PAYLOADS = {
    "backend_data.tar": volume_tar({"uploads/a.txt": b"data volume " * 500,
                                    "knowledge/k.md": b"# notes\n"}),
    DATABASE_PART: b"SQLite format 3\x00" + os.urandom(4000),
    "chroma_data.tar": volume_tar({"chroma.sqlite3": os.urandom(20000)}),
    # certbot's own layout: live/ links into archive/, relative, inside the volume.
    "certbot_conf.tar": volume_tar(
        {"archive/x.test/fullchain1.pem": b"certs " * 100},
        {"live/x.test/fullchain.pem": "../../archive/x.test/fullchain1.pem"}),
    ENV_PART: b"JWT_SECRET_KEY=abc\n",
}


@pytest.fixture
def archive(tmp_path):
    staged, parts = {}, []
    for name, data in PAYLOADS.items():
        path = tmp_path / f"staged-{name}"
        path.write_bytes(data)
        staged[name] = path
        kind = {"env": "env_file", DATABASE_PART: "sqlite"}.get(name, "volume")
        volume = name.removesuffix(".tar") if kind == "volume" else (
            "backend_data" if kind == "sqlite" else None)
        parts.append(Part(name=name, kind=kind, what=name, volume=volume, size=len(data),
                          sha256=hashlib.sha256(data).hexdigest(),
                          path_in_volume="tr4ction.db" if kind == "sqlite" else None,
                          owner="10001:10001" if kind == "sqlite" else None,
                          mode="644" if kind == "sqlite" else None))
    manifest = Manifest(kind=KIND_BACKUP, project="tr4ction", created_at="2025-01-01T00:00:00+00:00",
                        tr4ctl_version="0.1.0", env="dev", parts=parts)
    dest = tmp_path / "backups" / "tr4ction-backup-20250101T000000Z.tar.gz"
    dest.parent.mkdir()
    write_archive(dest, manifest, staged)
    return dest


def raw_archive(path, manifest_data: dict, members: dict[str, bytes]) -> None:
    """An archive written by hand, to tamper with it consistently (valid gzip)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in [(MANIFEST_NAME, json.dumps(manifest_data).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))


def cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def one_line(result, code, *words):
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    text = " ".join(lines)  # Rich may wrap the one message on a narrow terminal
    for word in words:
        assert word in text, text


def test_archive_is_private_and_has_no_leftovers(archive):
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] == MANIFEST_NAME


def test_intact_archive_verifies_and_streams_its_parts(archive):
    result = verify_archive(archive)
    assert result.ok, result.problems
    assert read_manifest(archive).project == "tr4ction"
    seen = {}
    for part, reader in stream_parts(archive, read_manifest(archive)):
        seen[part.name] = reader.read(1 << 30)
    assert seen == PAYLOADS


@pytest.mark.parametrize("where", [0.05, 0.3, 0.5, 0.8, 0.999])
def test_a_flipped_byte_never_passes_as_other_data(archive, where):
    data = bytearray(archive.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    archive.write_bytes(bytes(data))
    try:
        result = verify_archive(archive)
    except OperationFailed:
        return
    if result.ok:
        # Deflate has a few bits that change nothing (e.g. the padding after the last
        # block, unused code lengths; about 1 flip in 2500 here): the parts must then be
        # exactly the ones written, which gzip's CRC and each part's sha256 just proved.
        streamed = {part.name: reader.read(1 << 30)
                    for part, reader in stream_parts(archive, read_manifest(archive))}
        assert streamed == PAYLOADS


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_a_truncated_archive_is_refused(archive, keep):
    data = archive.read_bytes()
    archive.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(OperationFailed, match="truncated"):
        verify_archive(archive)


def test_a_consistently_tampered_part_fails_its_sha256(archive, tmp_path):
    manifest = json.loads(read_manifest(archive).to_json())
    members = dict(PAYLOADS)
    original = members["chroma_data.tar"]
    # Flip a byte of the random file inside rather than set one it may already have.
    where = len(original) // 2
    members["chroma_data.tar"] = (original[:where] + bytes([original[where] ^ 0xFF])
                                  + original[where + 1:])
    raw_archive(archive, manifest, members)
    result = verify_archive(archive)
    assert result.problems == ["chroma_data.tar: sha256 differs from the manifest"]
    with pytest.raises(OperationFailed, match="changed since it was verified"):
        for _part, reader in stream_parts(archive, read_manifest(archive)):
            reader.read(1 << 30)


def test_a_newer_format_is_bad_input(archive):
    manifest = json.loads(read_manifest(archive).to_json())
    manifest["format_version"] = FORMAT_VERSION + 1
    raw_archive(archive, manifest, PAYLOADS)
    with pytest.raises(BadInput, match="format version"):
        verify_archive(archive)


def test_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(BadInput, match="no archive at"):
        verify_archive(tmp_path / "nope.tar.gz")
    foreign = tmp_path / "foreign.tar.gz"
    raw_archive(foreign, {"hello": "world"}, {})
    with pytest.raises(OperationFailed, match="not a tr4ctl backup"):
        verify_archive(foreign)


# -- the CLI: one line, the right exit code, and no Docker needed to refuse ---------------
def test_cli_verify_ok_and_refusals(tmp_path, archive):
    one_line(cli(tmp_path, "backup", "verify", str(archive)), 0, "is intact", "5 parts")
    data = bytearray(archive.read_bytes())
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    one_line(cli(tmp_path, "backup", "verify", str(truncated)), 1, "truncated")
    data[len(data) // 2] ^= 0x01
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(bytes(data))
    one_line(cli(tmp_path, "backup", "verify", str(flipped)), 1, "damaged")
    one_line(cli(tmp_path, "backup", "verify", str(tmp_path / "missing.tar.gz")), 2,
             "no archive at")


def test_cli_restore_refuses_before_touching_anything(tmp_path, archive):
    project = tmp_path / "project"
    project.mkdir()
    one_line(cli(project, "backup", "restore", str(tmp_path / "missing.tar.gz"), "--yes"), 2,
             "no archive at")
    manifest = json.loads(read_manifest(archive).to_json())
    manifest["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.tar.gz"
    raw_archive(newer, manifest, PAYLOADS)
    one_line(cli(project, "backup", "restore", str(newer), "--yes"), 2, "format version",
             "upgrade tr4ctl")
    data = archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 3])
    one_line(cli(project, "backup", "restore", str(truncated), "--yes"), 1, "truncated")
    assert sorted(p.name for p in project.iterdir()) == []  # nothing was written


def test_cli_restore_refuses_another_projects_archive(tmp_path, archive):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("TR4CTL_PROJECT_NAME=elsewhere\n")
    one_line(cli(project, "backup", "restore", str(archive), "--yes"), 2,
             "the archive is of project tr4ction, this folder is project elsewhere",
             "add --as-project elsewhere", "run the restore from its folder")
    # --as-project confirms this folder's project; it never names another one.
    one_line(cli(project, "backup", "restore", str(archive), "--yes", "--as-project",
                 "tr4ction"), 2, "--as-project tr4ction is not this folder's project "
                 "(elsewhere)")
    assert (project / ".env").read_text() == "TR4CTL_PROJECT_NAME=elsewhere\n"
    assert sorted(p.name for p in project.iterdir()) == [".env"]


def test_cli_list_shows_archives_and_unreadable_files(tmp_path, archive):
    (archive.parent / "junk.tar.gz").write_bytes(b"not gzip")
    result = cli(tmp_path, "--json", "backup", "list", "--dir", str(archive.parent))
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)["data"]["archives"]
    by_file = {entry["file"]: entry for entry in listed}
    assert by_file[archive.name]["kind"] == "backup"
    assert by_file[archive.name]["project"] == "tr4ction"
    assert by_file["junk.tar.gz"]["problem"]
