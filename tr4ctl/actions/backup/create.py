"""`tr4ctl backup create | list | verify`: one archive with everything the stack cannot
rebuild (the database, Chroma, certificates with the ACME account, .env).

Pre-flight first (an engine, the volumes, an image for the helper, room on disk),
then the copy: the SQLite database with its online backup API while the backend
keeps serving, and each other volume through a throwaway container, with the
service that writes it stopped for that moment.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tr4ctl import __version__
from tr4ctl.actions.backup.archive import sha256_of, write_archive
from tr4ctl.actions.backup.location import backup_dir, check_space, free_bytes, prepare_dir
from tr4ctl.actions.db.postgres import start_postgres
from tr4ctl.docker.health import wait_healthy
from tr4ctl.docker.volumes import VolumeStreams
from tr4ctl.errors import BadInput, MissingPrerequisite, OperationFailed, Tr4ctlError
from tr4ctl.facts import BACKEND_APP_DIR, BACKEND_DATA_DIR, POSTGRES, POSTGRES_USER
from tr4ctl.plan.backup import (
    BACKEND_DATA_MOUNT,
    DATABASE_PART,
    ENV_PART,
    KIND_BACKUP,
    POSTGRES_PART,
    SCOPE_DATABASE,
    SCOPE_FULL,
    VOLUME_PARTS,
    VOLUME_WRITERS,
    WHAT,
    Manifest,
    Part,
    archive_file_name,
    archives_to_prune,
    copy_volume_key,
    database_path_in_volume,
    parse_archive_name,
    space_problem,
    sqlite_exclusions,
    sqlite_part_on_postgres,
    utc_now_text,
    volume_part_name,
)
from tr4ctl.plan.database import current_url, postgres_database
from tr4ctl.plan.services import ServiceState
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime

# How long a service stopped for the copy may take to be healthy again.
RESTART_TIMEOUT = 180.0
META_MARK = "TR4CTL-META "

# Runs with python3 in the backend container (ONLINE) or, when the backend is not
# running, in a throwaway container with the data volume mounted read-only (OFFLINE).
# Writes the copy to stdout and one META line to stderr.
SQLITE_COPY_SCRIPT = r'''
import json, os, shutil, sqlite3, sys, tempfile
OFFLINE = {offline}
MARK = {mark!r}

def database_path():
    try:  # the backend's own settings decide where the database is
        from app.core.config import load_settings
        url = load_settings().DATABASE_URL
    except Exception:
        data_dir = os.environ.get("DATA_DIR") or {data_dir!r}
        url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(data_dir, "tr4ction.db")
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix):].split("?", 1)[0]
    return os.path.realpath(path if path.startswith("/") else os.path.join({app_dir!r}, path))

def done(meta, code=0):
    print(MARK + json.dumps(meta), file=sys.stderr, flush=True)
    sys.exit(code)

path = database_path()
if path is None:
    done({{"error": "DATABASE_URL is not a SQLite file"}}, 3)
if not os.path.exists(path):
    done({{"absent": True, "path": path}})
st = os.stat(path)
work = tempfile.mkdtemp(prefix="tr4ctl-backup-")
try:
    source = path
    if OFFLINE:
        # Nothing has the database open: copy it with its journals, SQLite recovers the copy.
        source = os.path.join(work, "source.db")
        shutil.copyfile(path, source)
        for suffix in ("-wal", "-journal"):
            if os.path.exists(path + suffix):
                shutil.copyfile(path + suffix, source + suffix)
    out = os.path.join(work, "copy.db")
    src = sqlite3.connect(source, timeout=60)
    dst = sqlite3.connect(out)
    # One step (pages=-1): one read transaction, so the copy is one consistent snapshot;
    # in WAL mode the backend's writers are not blocked meanwhile.
    src.backup(dst)
    src.close()
    # A self-contained file: no -wal beside it. The backend turns WAL on again at start.
    dst.execute("PRAGMA journal_mode=DELETE")
    check = [row[0] for row in dst.execute("PRAGMA integrity_check").fetchall()]
    tables = dst.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
    dst.close()
    with open(out, "rb") as handle:
        shutil.copyfileobj(handle, sys.stdout.buffer, 1 << 20)
    sys.stdout.buffer.flush()
finally:
    shutil.rmtree(work, ignore_errors=True)
done({{"path": path, "owner": "%d:%d" % (st.st_uid, st.st_gid),
       "mode": "%o" % (st.st_mode & 0o7777), "integrity_check": "; ".join(check)[:200],
       "tables": tables}})
'''


@dataclass
class CreatedBackup:
    path: Path
    manifest: Manifest
    size: int
    stopped_seconds: dict[str, float] = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)


# -- pre-flight --------------------------------------------------------------------------
def helper_image(rt: Runtime) -> str:
    """An image the stack already has, with tar, find and python3 (Debian based)."""
    candidates = [rt.stack_inputs.backend_image, rt.config.backend_base_image]
    for image in candidates:
        if rt.engine.image_exists(image):
            return image
    raise MissingPrerequisite(f"no local image to copy the volumes with ({' or '.join(candidates)})",
                              "run `tr4ctl up` once: it builds the backend image")


def present_volumes(rt: Runtime) -> set[str]:
    """The backed-up volume keys whose Docker volume exists."""
    names = rt.names
    existing = rt.engine.existing_volumes([names.volume(key) for key in VOLUME_PARTS])
    return {key for key in VOLUME_PARTS if names.volume(key) in existing}


def estimated_bytes(rt: Runtime, streams: VolumeStreams, present: set[str]) -> int:
    names = rt.names
    kib = streams.volume_kib([names.volume(key) for key in VOLUME_PARTS if key in present])
    env_file = rt.paths.env_file
    return sum(kib.values()) * 1024 + (env_file.stat().st_size if env_file.exists() else 0)


def check_engine_space(rt: Runtime, streams: VolumeStreams, present: set[str]) -> None:
    """Room in the engine's data root for the copy _copy_volume makes there, when that
    root is on this machine (an engine elsewhere has a disk this process cannot see)."""
    keys = [key for key in VOLUME_WRITERS if key in present]
    root = Path(rt.engine.docker_root_dir() or "/nonexistent")
    if not keys or not root.is_dir():
        return
    kib = streams.volume_kib([rt.names.volume(key) for key in keys])
    problem = space_problem(str(root), "copy of Chroma's volume (Chroma is stopped only "
                            "while it is made)", sum(kib.values()) * 1024, free_bytes(root))
    if problem:
        raise OperationFailed(problem, "free space there (`docker system df` shows what the "
                                       "engine keeps); nothing was changed")


def create_backup(rt: Runtime, output: Path | None, keep: int | None) -> CreatedBackup:
    """`backup create`: pre-flight, then the copy (the caller holds the stack's lock)."""
    engine = rt.engine
    engine.require_engine()
    if not rt.paths.env_file.exists():
        raise BadInput("this project has no .env: there is nothing to back up",
                       "run `tr4ctl init` or `tr4ctl up` first, or pass --project-dir")
    present = present_volumes(rt)
    if "backend_data" not in present:
        raise BadInput(f"project {rt.config.project_name} has no data volumes: "
                       "there is nothing to back up", "run `tr4ctl up` first")
    directory = backup_dir(rt, output)
    prepare_dir(directory)
    streams = VolumeStreams(engine, helper_image(rt))
    check_space(directory, estimated_bytes(rt, streams, present), "backup")
    check_engine_space(rt, streams, present)
    streams.remove_leftover_helpers()
    created = take_backup(rt, streams, directory, KIND_BACKUP, present)
    if keep:
        created.pruned = prune(directory, rt.config.project_name, keep)
    return created


def staging_prefix(project: str) -> str:
    return f".staging-{project}-"


def remove_leftovers(directory: Path, project: str) -> None:
    """Staging directories and partial archives of this project's earlier, killed runs
    (the caller holds the stack's lock, so no live run of this project owns one)."""
    for path in directory.iterdir():
        if path.is_dir() and path.name.startswith(staging_prefix(project)):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(".") and path.name.endswith(".partial"):
            name = parse_archive_name(path.name[1:-len(".partial")])
            if name is not None and name.project == project:
                path.unlink(missing_ok=True)


def prune(directory: Path, project: str, keep: int) -> list[str]:
    doomed = archives_to_prune([p.name for p in directory.iterdir() if p.is_file()], project, keep)
    for name in doomed:
        (directory / name).unlink(missing_ok=True)
    return doomed


# A stopped stack's PostgreSQL, started for a dump: healthy within this long.
DUMP_START_SECONDS = 120


# -- the copy ----------------------------------------------------------------------------
class NoDatabaseYet(OperationFailed):
    """The database has not been made yet (by the backend's migrations)."""


def take_database_backup(rt: Runtime, directory: Path, kind: str) -> CreatedBackup:
    """The database alone, online (the backend keeps serving): seconds, not the minute a
    full backup takes with Chroma stopped. What `deploy` takes before a release."""
    prepare_dir(directory)
    streams = VolumeStreams(rt.engine, helper_image(rt))
    return take_backup(rt, streams, directory, kind, present_volumes(rt), scope=SCOPE_DATABASE)


def take_backup(rt: Runtime, streams: VolumeStreams, directory: Path, kind: str,
                present: set[str], scope: str = SCOPE_FULL) -> CreatedBackup:
    """Copy every part into a private staging directory next to the archive, then write
    the archive. Volumes in `present` are copied; the others are recorded as absent."""
    names = rt.names
    states = rt.engine.service_states(("backend", "chroma"))
    stopped: dict[str, float] = {}
    remove_leftovers(directory, names.project)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(names.project), dir=directory))  # 0700
    try:
        parts: list[Part] = []
        on_postgres = rt.config.database == POSTGRES
        database = _copy_database(rt, streams, staging, states, present, on_postgres)
        if scope == SCOPE_DATABASE:
            chosen = _dump_postgres(rt, streams, staging) if on_postgres else database
            if chosen.absent:
                raise NoDatabaseYet("there is no database to back up yet",
                                      "run `tr4ctl up` first: the backend creates it")
            return _write(rt, directory, kind, [chosen], staging, stopped, scope)
        for key in VOLUME_PARTS:
            part = Part(name=volume_part_name(key), kind="volume", what=WHAT[key], volume=key)
            if key not in present:
                part.absent = True
                parts.extend([part, database] if key == "backend_data" else [part])
                continue
            exclude = (sqlite_exclusions(database.path_in_volume)
                       if key == "backend_data" and database.path_in_volume else [])
            _copy_volume(rt, streams, key, states, stopped, staging / part.name, exclude)
            part.size, part.sha256 = sha256_of(staging / part.name)
            if exclude:
                part.details["excluded"] = [pattern[2:] for pattern in exclude]
            writers = [s for s in VOLUME_WRITERS.get(key, ()) if s in stopped]
            if writers:
                part.details["consistency"] = (f"{', '.join(writers)} stopped while copied "
                                               f"({sum(stopped[s] for s in writers):.1f}s)")
            parts.append(part)
            if key == "backend_data":
                parts.append(database)  # after its volume: a restore writes it in last
        env = Part(name=ENV_PART, kind="env_file", what=WHAT["env"])
        if rt.paths.env_file.exists():
            shutil.copyfile(rt.paths.env_file, staging / ENV_PART)
            env.size, env.sha256 = sha256_of(staging / ENV_PART)
        else:  # only a safety backup gets here (create refuses a project without .env)
            env.absent = True
        parts.append(env)
        if on_postgres:
            # Last: a restore puts .env (which database) back before the dump goes in.
            parts.append(_dump_postgres(rt, streams, staging))
        return _write(rt, directory, kind, parts, staging, stopped, SCOPE_FULL)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(rt: Runtime, directory: Path, kind: str, parts: list[Part], staging: Path,
           stopped: dict[str, float], scope: str) -> CreatedBackup:
    now = datetime.now(UTC)
    manifest = Manifest(kind=kind, project=rt.config.project_name,
                        created_at=utc_now_text(now), tr4ctl_version=__version__,
                        env=last_environment(rt.paths).value, parts=parts, scope=scope)
    taken = {p.name for p in directory.iterdir()}
    path = directory / archive_file_name(manifest.project, kind, now, taken)
    write_archive(path, manifest, {p.name: staging / p.name for p in manifest.members})
    return CreatedBackup(path=path, manifest=manifest, size=path.stat().st_size,
                         stopped_seconds=stopped)


def _copy_database(rt: Runtime, streams: VolumeStreams, staging: Path,
                   states: dict[str, ServiceState], present: set[str],
                   on_postgres: bool) -> Part:
    if on_postgres:
        return sqlite_part_on_postgres()
    part = Part(name=DATABASE_PART, kind="sqlite", what=WHAT["database"], volume="backend_data")
    if "backend_data" not in present:
        part.absent = True
        return part
    dest = staging / DATABASE_PART
    online = states["backend"].state == "running"
    script = SQLITE_COPY_SCRIPT.format(offline=not online, mark=META_MARK,
                                       data_dir=BACKEND_DATA_DIR, app_dir=BACKEND_APP_DIR)
    if online:
        stderr = streams.python_in_service("backend", script, dest, "copying the database")
    else:
        envs = {"ENVIRONMENT": "development", "DATA_DIR": BACKEND_DATA_MOUNT}
        url = rt.config.backend_values.get("DATABASE_URL")
        if url:
            envs["DATABASE_URL"] = url
        stderr = streams.python_on_volume(rt.names.volume("backend_data"), BACKEND_DATA_MOUNT,
                                          script, dest, "copying the database", envs=envs)
    meta = _meta(stderr)
    if meta.get("absent"):
        part.absent = True
        part.details["note"] = f"no database at {meta.get('path')} yet"
        dest.unlink(missing_ok=True)
        return part
    relative = database_path_in_volume(str(meta.get("path", "")))
    if relative is None:
        raise OperationFailed(f"the database {meta.get('path')} is not on the backend_data volume: "
                              "a backup cannot hold it",
                              f"keep DATABASE_URL under {BACKEND_DATA_MOUNT} (the default)")
    if meta.get("integrity_check") != "ok":
        raise OperationFailed(f"the database copy fails SQLite's integrity check: "
                              f"{meta.get('integrity_check')}",
                              "no archive was written; check the database with the backend's tools")
    part.path_in_volume = relative
    part.owner, part.mode = str(meta["owner"]), str(meta["mode"])
    part.size, part.sha256 = sha256_of(dest)
    part.details = {"integrity_check": "ok", "tables": meta.get("tables"),
                    "taken": "online, backend serving" if online else "offline, backend stopped"}
    return part


def _dump_postgres(rt: Runtime, streams: VolumeStreams, staging: Path) -> Part:
    """pg_dump in the postgres container over its local socket: one snapshot of the
    backend's database while it keeps serving, streamed into the staging folder. A
    stopped PostgreSQL is started for the dump and stopped again; with no volume, or an
    empty one (a fresh project: `restore --from` makes them first), there is nothing to
    dump."""
    name = postgres_database(current_url(rt.config))
    part = Part(name=POSTGRES_PART, kind="postgres", what=WHAT["postgres"])
    volume = rt.names.volume("postgres_data")
    if not rt.engine.existing_volumes([volume]) or not streams.holds_file(volume,
                                                                          "PG_VERSION"):
        part.absent = True
        return part
    started = start_postgres(rt, DUMP_START_SECONDS)
    try:
        argv = rt.engine.exec_argv(POSTGRES, ["pg_dump", "--format=custom", "--no-owner",
                                              "-U", POSTGRES_USER, "-d", name])
        rt.engine.runner.run_to_file(argv, staging / POSTGRES_PART,
                                     what=f"dumping the PostgreSQL database {name}")
    finally:
        if started:
            rt.engine.compose_stop([POSTGRES])
    part.size, part.sha256 = sha256_of(staging / POSTGRES_PART)
    part.details = {"database": name, "format": "pg_dump --format=custom",
                    "taken": "PostgreSQL started for the dump" if started
                    else "online, backend serving"}
    return part


def _meta(stderr: str) -> dict:
    for line in reversed(stderr.splitlines()):
        if line.startswith(META_MARK):
            try:
                return json.loads(line[len(META_MARK):])
            except ValueError:
                break
    raise OperationFailed("copying the database gave no result",
                          "rerun with --verbose", details=stderr.strip()[-2000:] or None)


def _copy_volume(rt: Runtime, streams: VolumeStreams, key: str,
                 states: dict[str, ServiceState], stopped: dict[str, float], dest: Path,
                 exclude: list[str]) -> None:
    """The volume's tar into dest. With writers running, they are stopped only for a
    copy inside the engine (plan/backup.py COPY_SUFFIX), and the tar is read from it."""
    volume = rt.names.volume(key)
    if not _running_writers(key, states):
        streams.read_volume(volume, dest, exclude)
        return
    copy = rt.names.volume(copy_volume_key(key))
    remove_volume_copies(rt)  # a killed run's
    rt.engine.create_volume(copy)
    try:
        with _writers_stopped(rt, streams, key, states, stopped):
            streams.clone_volume(volume, copy)
        streams.read_volume(copy, dest, exclude)
    finally:
        rt.engine.remove_volume(copy)


def remove_volume_copies(rt: Runtime) -> None:
    copies = [rt.names.volume(copy_volume_key(key)) for key in VOLUME_WRITERS]
    for name in rt.engine.existing_volumes(copies):
        rt.engine.remove_volume(name)


def _running_writers(volume_key: str, states: dict[str, ServiceState]) -> list[str]:
    return [s for s in VOLUME_WRITERS.get(volume_key, ())
            if s in states and states[s].state == "running"]


@contextmanager
def _writers_stopped(rt: Runtime, streams: VolumeStreams, volume_key: str,
                     states: dict[str, ServiceState], stopped: dict[str, float]) -> Iterator[None]:
    """Stop the running services that write this volume, and start them again after,
    waiting until they are healthy (whatever happened to the copy in between)."""
    running = _running_writers(volume_key, states)
    if not running:
        yield
        return
    began = time.monotonic()
    rt.out.info(f"stopping {', '.join(running)} while its data is copied")
    rt.engine.compose_stop(running)
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        try:
            rt.engine.compose_start(running)
            # The others kept running, and the backend's check may have found Chroma
            # stopped ("not ready" for an interval): ready again by status's notion.
            kept = tuple(s for s, state in states.items()
                         if s not in running and state.state == "running")
            wait_healthy(rt.engine, (*running, *kept), timeout=RESTART_TIMEOUT)
        except Tr4ctlError:
            if not failed:  # never hide the copy's own error behind this one
                raise
        for service in running:
            stopped[service] = round(time.monotonic() - began, 1)
