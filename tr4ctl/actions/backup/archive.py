"""The archive file: a gzip'd tar with the manifest first, then the parts.

Written under a temporary name (0600 from the start), fsync'ed and renamed, so a
crash never leaves a half archive under a real name. Read as a stream, once, with
every byte hashed: the gzip CRC and the manifest's sha256 together catch a flipped
byte or a truncated file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.files import fsync_dir
from tr4ctl.plan.archive_members import (
    DIRECTORY,
    FILE,
    HARDLINK,
    SYMLINK,
    Member,
    VolumeTarCheck,
    outer_member_problems,
    shown,
)
from tr4ctl.plan.backup import (
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    Observed,
    Part,
    manifest_problems,
    newer_format_problem,
    parse_manifest,
    structure_problems,
    verify_members,
)

CHUNK = 1 << 20
# A manifest is a few KiB; anything much larger is not ours.
MAX_MANIFEST_BYTES = 1 << 20
# What reading a damaged gzip'd tar can raise.
DAMAGE = (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error, OSError)


def sha256_of(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_archive(dest: Path, manifest: Manifest, staged: dict[str, Path]) -> None:
    """The manifest, then each present part from its staged file, atomically at dest."""
    tmp = dest.with_name(f".{dest.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            with (gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as gz,
                  tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar):
                _add_bytes(tar, MANIFEST_NAME, manifest.to_json().encode())
                for part in manifest.members:
                    info = tarfile.TarInfo(part.name)
                    info.size, info.mode = part.size, 0o600
                    with staged[part.name].open("rb") as handle:
                        tar.addfile(info, handle)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io
    import time

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))



def require_archive(path: Path) -> None:
    if not path.exists():
        raise BadInput(f"no archive at {path}", "check the path; `tr4ctl backup list` shows "
                                                 "the archives in the backup directory")
    if not path.is_file():
        raise BadInput(f"{path} is not a file", "give the path of a .tar.gz backup archive")


@contextmanager
def _open_stream(path: Path) -> Iterator[tuple[gzip.GzipFile, tarfile.TarFile,
                                               Iterator[tarfile.TarInfo]]]:
    """The gzip stream, the tar read from it in one pass, and that pass's members (one
    iterator for the whole read: tarfile's own iteration restarts at the first member)."""
    with gzip.open(path, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        yield gz, tar, iter(tar)


def _manifest_from(tar: tarfile.TarFile, members: Iterator[tarfile.TarInfo]) -> Manifest:
    first = next(members, None)
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise ManifestError("its first member is not a manifest")
    if first.size > MAX_MANIFEST_BYTES:
        raise ManifestError("its manifest is implausibly large")
    handle = tar.extractfile(first)
    assert handle is not None
    return parse_manifest(handle.read())


def read_manifest(path: Path) -> Manifest:
    """Just the manifest (the archive's first member): cheap, for `list` and pre-flight."""
    require_archive(path)
    try:
        with _open_stream(path) as (_, tar, members):
            return _manifest_from(tar, members)
    except ManifestError as exc:
        raise OperationFailed(f"{path} is not a usable tr4ctl backup: {exc}",
                              "check the path; nothing was changed") from None
    except DAMAGE as exc:
        raise _damaged(path, exc) from None


def _damaged(path: Path, exc: BaseException) -> OperationFailed:
    reason = str(exc).strip() or type(exc).__name__
    if isinstance(exc, EOFError) or "unexpected end" in reason.lower():
        what = "is truncated: it ends before the archive does"
    else:
        what = f"is damaged ({reason})"
    return OperationFailed(f"{path} {what}", "use another archive; nothing was changed")


@dataclass
class VerifyResult:
    manifest: Manifest
    problems: list[str]  # the bytes are not what the manifest says: damage (exit 1)
    # What no archive of tr4ctl holds (a path out of a volume, a link leading out, a
    # device, more bytes than the manifest gives): refused as bad input (exit 2).
    unsafe: list[str] = field(default_factory=list)
    env_text: bytes | None = None  # the env part, as verified

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unsafe


def member_of(info: tarfile.TarInfo) -> Member:
    """A tar header as the pure checks see it."""
    if info.isfile():
        kind = FILE
    elif info.isdir():
        kind = DIRECTORY
    elif info.issym():
        kind = SYMLINK
    elif info.islnk():
        kind = HARDLINK
    elif info.ischr():
        kind = "chardev"
    elif info.isblk():
        kind = "blockdev"
    elif info.isfifo():
        kind = "fifo"
    else:
        kind = f"type {info.type!r}"
    return Member(info.name, kind, info.size, info.linkname)


def verify_archive(path: Path) -> VerifyResult:
    """Read the whole archive once: the manifest's own shape, then every member of the
    archive and of each volume's tar (streamed from it, never extracted) against what
    an archive may hold, every part's size and sha256 against the manifest, then the
    gzip trailer. A newer format or an unsafe member is bad input (exit 2); damage is a
    failure (exit 1)."""
    require_archive(path)
    try:
        with _open_stream(path) as (gz, tar, members):
            try:
                manifest = _manifest_from(tar, members)
            except ManifestError:
                # A flipped byte can hit the manifest: gzip's CRC at the end tells damage
                # (exit 1, "damaged") from a file that simply is not ours.
                while gz.read(CHUNK):
                    pass
                raise
            newer = newer_format_problem(manifest)
            if newer:
                raise BadInput(newer, "upgrade tr4ctl to restore it; nothing was changed")
            unsafe = manifest_problems(manifest)
            if unsafe:
                return VerifyResult(manifest, [], unsafe)
            walk = _walk(tar, members, manifest)
            if walk.stopped:
                # An unsafe member of the archive itself: nothing more of it is read.
                return VerifyResult(manifest, [], walk.unsafe)
            # Past tar's end-of-archive blocks: reading to EOF makes gzip check its CRC.
            while gz.read(CHUNK):
                pass
    except ManifestError as exc:
        raise OperationFailed(f"{path} is not a usable tr4ctl backup: {exc}",
                              "check the path; nothing was changed") from None
    except DAMAGE as exc:
        raise _damaged(path, exc) from None
    problems = verify_members(manifest, walk.observed) + structure_problems(manifest)
    return VerifyResult(manifest, problems, walk.unsafe, walk.env_text)


@dataclass
class _Walk:
    observed: list[Observed] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    env_text: bytes | None = None
    stopped: bool = False


def _walk(tar: tarfile.TarFile, members: Iterator[tarfile.TarInfo], manifest: Manifest
          ) -> _Walk:
    """Every member after the manifest, each part hashed as it is read; a volume's tar
    walked member by member on the way. A part's own problems count only when its
    sha256 matches (otherwise the part is damaged, and that is what is reported)."""
    walk = _Walk()
    parts = {p.name: p for p in manifest.members}
    seen: set[str] = set()
    for info in members:
        part = parts.get(info.name)
        found = outer_member_problems(member_of(info), part.size if part else None, seen)
        if found or part is None:  # (a member the manifest does not list is found)
            walk.unsafe += found
            walk.stopped = True
            return walk
        seen.add(info.name)
        handle = tar.extractfile(info)
        assert handle is not None
        reader = HashingReader(handle)
        inner: list[str] = []
        if part.kind == "volume":
            inner = _volume_problems(part, reader)
        elif part.kind == "env_file":
            env_text = b"".join(iter(lambda r=reader: r.read(CHUNK), b""))
        reader.drain()
        observed = Observed(info.name, reader.size, reader.digest.hexdigest())
        walk.observed.append(observed)
        if observed.size == part.size and observed.sha256 == part.sha256:
            walk.unsafe += inner
            if part.kind == "env_file":
                walk.env_text = env_text
    return walk


def _volume_problems(part: Part, reader: HashingReader) -> list[str]:
    """A volume part's tar, read as a stream from the archive (nothing on disk)."""
    check = VolumeTarCheck(part.name, part.size)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as inner:
            for info in inner:
                check.add(member_of(info))
    except Exception as exc:  # noqa: BLE001 - whatever the part's bytes make tarfile raise
        if reader.failed is not None:
            raise reader.failed from None  # the archive itself is damaged or truncated
        check.unreadable(str(exc) or type(exc).__name__)
    return check.problems()


class HashingReader:
    """A part's bytes as they are streamed into a container, hashed on the way."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self.failed: BaseException | None = None  # what reading the archive raised

    def read(self, size: int = CHUNK) -> bytes:
        try:
            chunk = self.handle.read(size)
        except BaseException as exc:
            self.failed = exc
            raise
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def stream_parts(path: Path, verified: Manifest) -> Iterator[tuple[Part, HashingReader]]:
    """Each present part with a reader, in archive order, from an archive verified
    before with this manifest. After the consumer is done with a part, its sha256 is
    checked: a mismatch (the file changed since it was verified) raises before the next
    part is handed out; a manifest other than the verified one is refused first."""
    try:
        with _open_stream(path) as (_, tar, members):
            manifest = _manifest_from(tar, members)
            if manifest.to_json() != verified.to_json():
                raise OperationFailed(f"{path} changed since it was verified (its manifest)")
            parts = {p.name: p for p in manifest.members}
            for member in members:
                part = parts.get(member.name)
                handle = (tar.extractfile(member) if part is not None and member.isfile()
                          else None)
                if part is None or handle is None:
                    raise OperationFailed(f"{path} changed since it was verified "
                                          f"({shown(member.name)} is not in its manifest)")
                reader = HashingReader(handle)
                yield part, reader
                reader.drain()
                if reader.digest.hexdigest() != part.sha256 or reader.size != part.size:
                    raise OperationFailed(f"{path} changed since it was verified "
                                          f"({part.name} differs from its manifest)")
    except (ManifestError, *DAMAGE) as exc:
        raise OperationFailed(f"{path} could not be read while restoring: {exc}") from None
