"""Hostile backup archives, crafted from a good one with every size and sha256 in the
manifest made consistent again (a valid gzip, as tr4ctl writes it): only the checks of
what an archive may hold stand between them and a restore.

Shared by tests/unit/test_hostile_archives.py (verify and restore refuse them, no
engine) and tests/stack/test_hostile_archives.py (restore refuses them on a running
stack before anything stops). Each case is a class of input: a member that leaves its
volume, a link that leads out, a device, more bytes than the manifest says, another
project's identity; the same case runs on the outer tar and on each volume's tar.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
VOLUME_PARTS = ("backend_data.tar", "chroma_data.tar", "certbot_conf.tar")
# A name no file has: whatever a broken check let out, it is found by this.
TOKEN = "tr4ctl-hostile-7f3a"


def entry(name: str, kind: str = "file", data: bytes = b"x\n", linkname: str = "",
          size: int | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE,
                 "blockdev": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    info.mode = 0o755 if kind == "dir" else 0o644
    info.linkname = linkname
    if kind in ("chardev", "blockdev"):
        info.devmajor, info.devminor = 1, 3
    if kind != "file":
        data = b""
    info.size = len(data) if size is None else size
    return info, data


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], *, end: bool = True) -> bytes:
    """A tar (GNU format, as tar(1) writes a volume), block by block: with `end=False`
    it stops after the last member (no end-of-archive blocks)."""
    out = bytearray()
    for info, data in members:
        out += info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
        if info.isfile():
            out += data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)
    if end:
        out += b"\0" * (2 * tarfile.BLOCKSIZE)
    return bytes(out)


def tar_members(data: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    members = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar:
            handle = tar.extractfile(info) if info.isfile() else None
            members.append((info, handle.read() if handle else b""))
    return members


@dataclass
class Archive:
    """An archive's manifest and members, to change and write back consistently."""

    manifest: dict
    members: list[tuple[tarfile.TarInfo, bytes]]
    keep_size: set[str] = field(default_factory=set)  # parts whose manifest size stays

    @classmethod
    def read(cls, path: Path) -> Archive:
        members = tar_members(gzip.decompress(path.read_bytes()))
        assert members[0][0].name == MANIFEST
        return cls(json.loads(members[0][1]), members[1:])

    def part(self, name: str) -> dict:
        return next(p for p in self.manifest["parts"] if p["name"] == name)

    def data(self, name: str) -> bytes:
        return next(data for info, data in self.members if info.name == name)

    def set_data(self, name: str, data: bytes) -> None:
        for index, (info, _) in enumerate(self.members):
            if info.name == name:
                info.size = len(data)
                self.members[index] = (info, data)
                return
        raise KeyError(name)

    def add_to_volume(self, part: str, entries: list[tuple[tarfile.TarInfo, bytes]]) -> None:
        self.set_data(part, tar_bytes(tar_members(self.data(part)) + entries))

    def replace_member(self, name: str, new: tuple[tarfile.TarInfo, bytes]) -> None:
        for index, (info, _) in enumerate(self.members):
            if info.name == name:
                self.members[index] = new
                return
        raise KeyError(name)

    def write(self, path: Path) -> Path:
        """Sizes and sha256 of every listed part made true again, then a valid gzip."""
        for info, data in self.members:
            listed = [p for p in self.manifest["parts"] if p["name"] == info.name]
            if listed and info.isfile():
                if info.name not in self.keep_size:
                    listed[0]["size"] = len(data)
                listed[0]["sha256"] = hashlib.sha256(data).hexdigest()
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            manifest, text = entry(MANIFEST, data=json.dumps(self.manifest).encode())
            tar.addfile(manifest, io.BytesIO(text))
            for info, data in self.members:
                tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
        path.write_bytes(gzip.compress(out.getvalue()))
        path.chmod(0o600)
        return path


def env_with(text: bytes, **values: str) -> bytes:
    lines = [line for line in text.decode().splitlines()
             if line.split("=", 1)[0] not in values]
    return ("\n".join(lines + [f"{k}={v}" for k, v in values.items()]) + "\n").encode()


# -- the cases ---------------------------------------------------------------------------
# What each volume's tar may not hold: (what, entries added to that tar).
INNER = {
    "traversal": [entry(f"./../{TOKEN}")],
    "traversal-deep": [entry("./a/", "dir"), entry(f"./a/../../{TOKEN}")],
    "absolute": [entry(f"/tmp/{TOKEN}")],
    "symlink-absolute": [entry("./evil", "symlink", linkname="/etc"),
                         entry(f"./evil/{TOKEN}")],
    "symlink-relative-out": [entry("./evil", "symlink", linkname="../../../tmp")],
    "symlink-chain-out": [entry("./d/", "dir"), entry("./d/up", "symlink", linkname=".."),
                          entry("./evil", "symlink", linkname="d/up/..")],
    "symlink-then-file": [entry("./evil", "symlink", linkname="."),
                          entry(f"./evil/{TOKEN}")],
    "hardlink-absolute": [entry("./evil", "hardlink", linkname="/etc/passwd")],
    "hardlink-traversal": [entry("./evil", "hardlink", linkname="../../../etc/passwd")],
    "hardlink-to-symlink": [entry("./link", "symlink", linkname="/etc/passwd"),
                            entry("./evil", "hardlink", linkname="./link")],
    "chardev": [entry("./evil", "chardev")],
    "blockdev": [entry("./evil", "blockdev")],
    "fifo": [entry("./evil", "fifo")],
}


def _inner(part: str, name: str) -> Callable[[Archive], None]:
    def change(archive: Archive) -> None:
        archive.add_to_volume(part, INNER[name])
    return change


def _inner_larger(part: str) -> Callable[[Archive], None]:
    """A member whose header gives more bytes than the manifest gives the whole part
    (the tar is cut after it: its bytes are what the manifest's sha256 says)."""
    def change(archive: Archive) -> None:
        members = tar_members(archive.data(part))
        info, _ = entry(f"./{TOKEN}", size=len(archive.data(part)) * 4 + (1 << 20))
        cut = tar_bytes(members, end=False) + info.tobuf(tarfile.GNU_FORMAT) + b"y" * 512
        archive.set_data(part, cut)
    return change


def _outer_extra(name: str) -> Callable[[Archive], None]:
    def change(archive: Archive) -> None:
        archive.members.append(entry(name))
    return change


def _outer_replace(kind: str, linkname: str = "") -> Callable[[Archive], None]:
    def change(archive: Archive) -> None:
        archive.replace_member("env", entry("env", kind, linkname=linkname))
    return change


def _outer_larger(archive: Archive) -> None:
    """The env part with more bytes than its manifest size (its sha256 of those bytes)."""
    archive.set_data("env", archive.data("env") + b"# " + b"x" * 4096 + b"\n")
    archive.keep_size.add("env")


def _env_names_another_project(archive: Archive) -> None:
    archive.set_data("env", env_with(archive.data("env"),
                                     TR4CTL_PROJECT_NAME=archive.manifest["project"] + "-other"))


def _env_unknown_setting(archive: Archive) -> None:
    archive.set_data("env", env_with(archive.data("env"), COMPOSE_PROJECT_NAME="other"))


def _manifest_other_volume(archive: Archive) -> None:
    """An absent part would empty a volume the archive chose."""
    archive.manifest["parts"].append({"name": "postgres_data.tar", "kind": "volume",
                                      "what": "x", "volume": "postgres_data", "absent": True})


def _manifest_owner_option(archive: Archive) -> None:
    archive.part("database.sqlite3")["owner"] = "--reference=/etc/shadow"


CASES: dict[str, Callable[[Archive], None]] = {
    **{f"{part.removesuffix('.tar')}:{name}": _inner(part, name)
       for part in VOLUME_PARTS for name in INNER},
    **{f"{part.removesuffix('.tar')}:larger-than-manifest": _inner_larger(part)
       for part in VOLUME_PARTS},
    "outer:traversal": _outer_extra(f"../{TOKEN}"),
    "outer:absolute": _outer_extra(f"/tmp/{TOKEN}"),
    "outer:symlink": _outer_replace("symlink", "/etc/passwd"),
    "outer:hardlink": _outer_replace("hardlink", MANIFEST),
    "outer:chardev": _outer_replace("chardev"),
    "outer:fifo": _outer_replace("fifo"),
    "outer:larger-than-manifest": _outer_larger,
    "env:another-project": _env_names_another_project,
    "env:unknown-setting": _env_unknown_setting,
    "manifest:another-volume": _manifest_other_volume,
    "manifest:owner-option": _manifest_owner_option,
}


def make_good(dest: Path, project: str = "tr4ction") -> Path:
    """A good archive as `backup create` writes one, without an engine: real tars for
    the volumes (certbot's live/ links into archive/ as certbot makes them, a hard
    link, a link to a folder), a database, a .env of the project."""
    from tr4ctl.actions.backup.archive import write_archive
    from tr4ctl.plan.backup import KIND_BACKUP, WHAT, Manifest, Part

    def folder(name: str) -> tuple[tarfile.TarInfo, bytes]:
        return entry(name, "dir")

    volumes = {
        "backend_data.tar": [folder("./"), folder("./uploads/"),
                             entry("./uploads/a.txt", data=b"upload\n" * 100),
                             entry("./uploads/same.txt", "hardlink", linkname="./uploads/a.txt"),
                             entry("./latest", "symlink", linkname="uploads")],
        "chroma_data.tar": [folder("./"), entry("./chroma.sqlite3", data=bytes(range(256)) * 40)],
        "certbot_conf.tar": [folder("./"), folder("./archive/"), folder("./archive/x.test/"),
                             entry("./archive/x.test/fullchain1.pem", data=b"cert\n"),
                             folder("./live/"), folder("./live/x.test/"),
                             entry("./live/x.test/fullchain.pem", "symlink",
                                   linkname="../../archive/x.test/fullchain1.pem")],
    }
    data = {name: tar_bytes(members) for name, members in volumes.items()}
    data["database.sqlite3"] = b"SQLite format 3\x00" + bytes(4000)
    data["env"] = f"TR4CTL_PROJECT_NAME={project}\nJWT_SECRET_KEY={'k' * 40}\n".encode()
    staged, parts = {}, []
    for name in ("backend_data.tar", "database.sqlite3", "chroma_data.tar", "certbot_conf.tar",
                 "env"):
        path = dest.parent / f".staged-{name}"
        path.write_bytes(data[name])
        staged[name] = path
        kind = {"env": "env_file", "database.sqlite3": "sqlite"}.get(name, "volume")
        volume = (name.removesuffix(".tar") if kind == "volume"
                  else "backend_data" if kind == "sqlite" else None)
        parts.append(Part(name=name, kind=kind, what=WHAT.get(volume or "env", name),
                          volume=volume, size=len(data[name]),
                          sha256=hashlib.sha256(data[name]).hexdigest(),
                          path_in_volume="tr4ction.db" if kind == "sqlite" else None,
                          owner="10001:10001" if kind == "sqlite" else None,
                          mode="644" if kind == "sqlite" else None))
    manifest = Manifest(kind=KIND_BACKUP, project=project,
                        created_at="2025-01-01T00:00:00+00:00", tr4ctl_version="0.1.0",
                        env="dev", parts=parts)
    write_archive(dest, manifest, staged)
    for path in staged.values():
        path.unlink()
    return dest


def craft(good: Path, dest: Path, case: str) -> Path:
    archive = Archive.read(good)
    CASES[case](archive)
    return archive.write(dest)


def of_another_project(good: Path, dest: Path, project: str, **settings: str) -> Path:
    """A consistent archive of project `project` (manifest and .env), with these .env
    settings."""
    archive = Archive.read(good)
    archive.manifest["project"] = project
    archive.set_data("env", env_with(archive.data("env"), TR4CTL_PROJECT_NAME=project,
                                     **settings))
    return archive.write(dest)
