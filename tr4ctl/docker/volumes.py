"""Bytes in and out of the stack's volumes and services, for `tr4ctl backup`.

Volumes are read and written through a throwaway container of an image the stack
already has (tar, find and python3 are in it), never through the host's
/var/lib/docker: that works on any engine and keeps file owners numeric. Data goes
over the container's stdin/stdout, never through argv or a host bind mount.
"""

from __future__ import annotations

from pathlib import Path

from tr4ctl.docker import commands as cmd
from tr4ctl.docker.engine import Engine
from tr4ctl.docker.runner import ByteSource
from tr4ctl.errors import OperationFailed

HELPER_ROLE = "backup-helper"

# The second line of defence behind the archive's checks (plan/archive_members.py): a
# volume's tar is unpacked by this script (python3 in the helper), not by tar(1), which
# keeps links leading out, devices and FIFOs. It refuses, and stops at, a member with an
# absolute path or '..', a device, a FIFO, a member written through a link, a symbolic
# link leading out of the volume or a hard link to anything but a file already
# unpacked; stopped or not, it then removes any link of the tree that leads out (a later
# link can change where an earlier one leads). Owners (numeric), modes and times are
# kept as `tar -p --numeric-owner` keeps them. tarfile's own filters are not used: its
# "data" filter drops owners, and the helper's Python may predate them. Sent on stdin
# ahead of the tar (UNPACK_BOOTSTRAP reads it), never in argv.
CONFINED_UNPACK = r'''
import os, sys, tarfile

root = os.path.realpath(sys.argv[1])
stream = sys.stdin.buffer
trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


class Refused(Exception):
    pass


def inside(path):
    return path == root or path.startswith(root + os.sep)


def relative(name):
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        return None
    return "/".join(parts)


def check(member):
    name = relative(member.name)
    if name is None:
        raise Refused("a path out of the volume")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise Refused("not a file, directory or link")
    target = os.path.join(root, name) if name else root
    if not name and not member.isdir():
        raise Refused("in place of the volume itself")
    if name and not inside(os.path.realpath(os.path.dirname(target))):
        raise Refused("written through a link")
    if name and os.path.lexists(target) and not (
            member.isdir() and os.path.isdir(target) and not os.path.islink(target)):
        raise Refused("already unpacked")
    if member.issym() and (member.linkname.startswith("/") or not inside(os.path.realpath(
            os.path.join(os.path.dirname(target), member.linkname)))):
        raise Refused("a link out of the volume")
    if member.islnk():
        source = relative(member.linkname)
        path = os.path.join(root, source or "")
        if not source or os.path.islink(path) or not os.path.isfile(path) \
                or not inside(os.path.realpath(path)):
            raise Refused("a hard link to no file of the volume")
        member.linkname = source
    member.name = name or "."


def unpack():
    directories = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            try:
                check(member)
            except Refused as exc:
                raise Refused("%s: %s" % (ascii(member.name), exc)) from None
            if member.isdir():
                directories.append(member)  # its owner, mode and time once its files are in
            # A hard link shares its file's inode: that file's attributes stay.
            attrs = not (member.isdir() or member.islnk())
            tar.extract(member, root, set_attrs=attrs, numeric_owner=True, **trusted)
        for member in sorted(directories, key=lambda m: m.name, reverse=True):
            path = os.path.join(root, member.name)
            tar.chown(member, path, True)
            tar.chmod(member, path)
            tar.utime(member, path)


def links_out():
    """Links of the finished tree leading out (a later link can change where an earlier
    one leads): removed."""
    found = []
    for folder, dirs, files in os.walk(root):
        for entry in dirs + files:
            path = os.path.join(folder, entry)
            if os.path.islink(path) and not inside(os.path.realpath(path)):
                os.unlink(path)
                found.append(ascii(os.path.relpath(path, root)))
    return found


try:
    unpack()
    refused = None
except Refused as exc:
    refused = "refused %s (nothing after it was unpacked)" % exc
removed = links_out()
if removed:
    note = "refused links leading out of the volume (removed): " + ", ".join(removed)
    refused = refused + "; " + note if refused else note
if refused:
    sys.stderr.write(refused + "\n")
    sys.exit(3)
'''
# A SQLite file put in place of the live one ($1 in the volume, owner $2, mode $3), its
# old -wal/-shm/-journal removed first (SQLite would replay the old write-ahead log into
# the new file); renamed in, so it is the old database or the new one. Its folder must
# resolve inside the volume (the second line of defence: no link of it leads out).
REPLACE_DATABASE = (
    'set -e; target="/v/$1"; folder="$(dirname "$target")"; '
    'case "$(realpath -m "$folder")/" in /v/*) ;; '
    '*) echo "refused $1: its folder leads out of the volume" >&2; exit 3;; esac; '
    'rm -f "$target-wal" "$target-shm" "$target-journal" "$target.tr4ctl-tmp"; '
    'mkdir -p "$folder"; cat > "$target.tr4ctl-tmp"; chown "$2" "$target.tr4ctl-tmp"; '
    'chmod "$3" "$target.tr4ctl-tmp"; mv -f "$target.tr4ctl-tmp" "$target"')
# Reads the script's length, the script, and runs it; the tar follows on the same stdin.
UNPACK_BOOTSTRAP = ("import sys; s = sys.stdin.buffer; "
                    "exec(compile(s.read(int(s.readline())), 'tr4ctl-unpack', 'exec'))")


class Prefixed:
    """A byte source with some bytes first (a script, ahead of the data it reads)."""

    def __init__(self, prefix: bytes, source: ByteSource):
        self.prefix = prefix
        self.source = source

    def read(self, size: int) -> bytes:
        if self.prefix:
            chunk, self.prefix = self.prefix[:size], self.prefix[size:]
            return chunk
        return self.source.read(size)


def unpack_input(source: ByteSource) -> Prefixed:
    """What the unpacking helper reads on stdin: the script's length, the script, the tar."""
    script = CONFINED_UNPACK.encode()
    return Prefixed(b"%d\n" % len(script) + script, source)


class VolumeStreams:
    def __init__(self, engine: Engine, helper_image: str):
        self.engine = engine
        self.runner = engine.runner
        self.image = helper_image

    def _helper(self, mounts: dict[str, str], command: list[str], *, stdin: bool = False,
                env_keys: list[str] | None = None) -> list[str]:
        return cmd.helper_run(self.image, command, project=self.engine.project_name,
                              role=HELPER_ROLE, mounts=mounts, stdin=stdin,
                              env_keys=env_keys or [])

    def holds_file(self, volume: str, relative: str) -> bool:
        """Whether the (existing) volume holds that file."""
        argv = self._helper({volume: "/v:ro"}, ["test", "-e", f"/v/{relative}"])
        done = self.runner.run(argv, check=False, what=f"looking into volume {volume}")
        if done.returncode not in (0, 1):
            raise OperationFailed(f"cannot look into volume {volume}: "
                                  f"{done.stderr.strip() or done.returncode}")
        return done.returncode == 0

    def volume_kib(self, volumes: list[str]) -> dict[str, int]:
        """Disk use of each volume in KiB (du rounds up to blocks: an upper bound of the
        tar stream). Only pass volumes that exist: `docker run -v` would create them."""
        if not volumes:
            return {}
        mounts = {name: f"/v/{i}:ro" for i, name in enumerate(volumes)}
        argv = self._helper(mounts, ["du", "-sk", *(f"/v/{i}" for i in range(len(volumes)))])
        sizes: dict[str, int] = {}
        for line in self.runner.output(argv, what="measuring the volumes").splitlines():
            kib, _, path = line.partition("\t")
            index = path.rsplit("/", 1)[-1]
            if kib.isdigit() and index.isdigit():
                sizes[volumes[int(index)]] = int(kib)
        return sizes

    def clone_volume(self, source: str, copy: str) -> None:
        """source's files into the empty volume copy, inside the engine: a disk-to-disk
        copy (reflinked where the filesystem can), nothing streamed through tr4ctl."""
        argv = self._helper({source: "/v:ro", copy: "/c"},
                            ["cp", "-a", "--reflink=auto", "/v/.", "/c/"])
        self.runner.run(argv, what=f"copying volume {source}")

    def read_volume(self, volume: str, dest: Path, exclude: list[str] | None = None) -> None:
        """The volume as a tar stream (read-only mount, numeric owners) into dest."""
        options = ["--anchored", *(f"--exclude={pattern}" for pattern in exclude or [])]
        argv = self._helper({volume: "/v:ro"},
                            ["tar", "-cf", "-", "--numeric-owner", *options, "-C", "/v", "."])
        self.runner.run_to_file(argv, dest, what=f"copying volume {volume}")

    def replace_volume(self, volume: str, source: ByteSource) -> None:
        """Empty the volume, then unpack the tar read from source into it, confined to
        it (CONFINED_UNPACK)."""
        script = 'find /v -mindepth 1 -delete && exec python3 -c "$1" /v'
        argv = self._helper({volume: "/v"}, ["sh", "-c", script, "sh", UNPACK_BOOTSTRAP],
                            stdin=True)
        self.runner.run_from_stream(argv, unpack_input(source),
                                    what=f"restoring volume {volume}")

    def empty_volume(self, volume: str) -> None:
        self.runner.run(self._helper({volume: "/v"}, ["find", "/v", "-mindepth", "1", "-delete"]),
                        what=f"emptying volume {volume}")

    def replace_database(self, volume: str, path_in_volume: str, source: ByteSource, *,
                         owner: str, mode: str) -> None:
        """A SQLite file put in place of the live one (REPLACE_DATABASE)."""
        argv = self._helper({volume: "/v"}, ["sh", "-c", REPLACE_DATABASE, "sh", path_in_volume,
                                             owner, mode], stdin=True)
        self.runner.run_from_stream(argv, source, what=f"restoring the database into {volume}")

    def python_in_service(self, service: str, script: str, dest: Path, what: str) -> str:
        """A python3 script (sent on stdin) run in a running service; its stdout goes to
        dest, its stderr is returned."""
        argv = self.engine.exec_argv(service, ["python3", "-"])
        return self.runner.run_to_file(argv, dest, stdin_bytes=script.encode(), what=what)

    def python_on_volume(self, volume: str, mount: str, script: str, dest: Path, what: str,
                         envs: dict[str, str] | None = None) -> str:
        """The same, in a throwaway container with the volume mounted read-only."""
        argv = self._helper({volume: f"{mount}:ro"}, ["python3", "-"], stdin=True,
                            env_keys=list(envs or {}))
        return self.runner.run_to_file(argv, dest, stdin_bytes=script.encode(), env=envs,
                                       what=what)

    def remove_leftover_helpers(self) -> list[str]:
        """Helpers of this project still running: only a killed tr4ctl leaves one (the
        caller holds the stack's lock), and it must not write on after a new start."""
        ids = self.engine.labelled_container_ids(f"{cmd.PROJECT_LABEL}={self.engine.project_name}",
                                                 f"{cmd.ROLE_LABEL}={HELPER_ROLE}")
        self.engine.remove_containers(ids)
        return ids
