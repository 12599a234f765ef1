"""`tr4ctl backup restore --from TARGET [SNAPSHOT]`: a fresh project (no volumes, a new
host) from the copies off the host.

Pre-flight (no impact yet): the target, its credentials and the key; no data volume of
this project exists. Then restic restores the newest full snapshot (and a newer
database-only one over it) into a private staging folder, the database passes SQLite's
integrity check, and the copy becomes an archive of tr4ctl's own format: from there the
restore is `backup restore ARCHIVE`'s, with every check it makes before anything is
written (plan/archive_members.py, manifest_problems), and the stack comes up.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tr4ctl import __version__
from tr4ctl.actions.backup.archive import sha256_of, write_archive
from tr4ctl.actions.backup.create import present_volumes
from tr4ctl.actions.backup.location import prepare_dir
from tr4ctl.actions.stack.init import ensure_volumes_and_network
from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.facts import POSTGRES
from tr4ctl.files import PRIVATE, read_regular_file, write_atomic
from tr4ctl.plan import offsite
from tr4ctl.plan.backup import (
    DATABASE_PART,
    ENV_PART,
    KIND_BACKUP,
    POSTGRES_PART,
    SCOPE_FULL,
    VOLUME_PARTS,
    WHAT,
    Manifest,
    Part,
    archive_file_name,
    sqlite_part_on_postgres,
    utc_now_text,
    volume_part_name,
)
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime

RESTORE_TIMEOUT = 3600


def fetch_archive(rt: Runtime, target_text: str, snapshot: str | None, key_file: Path | None,
                  directory: Path) -> Path:
    """The snapshot as a tr4ctl archive in `directory` (0600): what `backup restore`
    then verifies and restores."""
    config = rt.config
    try:
        target = offsite.parse_target(target_text)
    except ValueError as error:
        raise BadInput(f"--from {target_text}: {error}", "give the TR4CTL_BACKUP_TARGET the "
                       "copies were made to") from None
    problem = offsite.settings_problem("restore", target_text, config.backup_ssh_key,
                                       config.backup_ssh_known_hosts,
                                       config.backup_s3_credentials)
    if problem:
        raise BadInput(problem[0], f"`{problem[1]}`")
    key_path = rt.paths.restic_password_file
    if key_file is None and not key_path.exists():
        raise BadInput(f"no key for the copies at {target_text} in this project",
                       "add --key-file FILE with the key `tr4ctl backup key export` printed")
    key = read_regular_file(key_file, "--key-file").decode("utf-8").strip() if key_file else None
    rt.engine.require_engine()
    present = present_volumes(rt)
    if present:
        raise BadInput(f"project {rt.names.project} already has data volumes "
                       f"({', '.join(sorted(present))}): --from restores onto a fresh project",
                       "restore an archive with `tr4ctl backup restore ARCHIVE`, or remove "
                       "this project's data first with `tr4ctl down --volumes`")
    env = _restic_environment(rt, target)
    # -- impact: the key kept, the network made, files fetched --------------------------
    if key is not None and not key_path.exists():
        key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(key_path, key, PRIVATE)
    made = InitReport()
    ensure_volumes_and_network(rt, made)
    prepare_dir(directory)
    staging = Path(tempfile.mkdtemp(prefix=f".{rt.names.project}-offsite-", dir=directory))
    try:
        listing = _restic(rt, target, ["snapshots", "--json"], env, None,
                          "listing the snapshots at the target")
        try:
            full, newer_db = offsite.choose_snapshots(
                offsite.parse_snapshots(listing, rt.names.project), snapshot)
        except ValueError as error:
            raise BadInput(f"{target_text}: {error}", "`tr4ctl backup list` on the old host, "
                           "or name a full snapshot of this project") from None
        rt.out.info(f"restoring snapshot {full.id[:8]} of {full.time}"
                    + (f", with the database of {newer_db.time}" if newer_db else ""))
        _restic(rt, target, ["restore", full.id, "--target", f"{offsite.RESTORE_OUT}/full"], env,
                staging, "restoring the full snapshot")
        if newer_db:
            _restic(rt, target, ["restore", newer_db.id, "--target", f"{offsite.RESTORE_OUT}/db"],
                    env, staging, "restoring the newer database snapshot")
        return _archive(rt, staging, directory, full, newer_db)
    except BaseException:
        _remove_made(rt, made)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_made(rt: Runtime, made: InitReport) -> None:
    """The empty volumes (and network) this call made, removed when it fails before any
    data went in: the project is as fresh as before, and a second try is not refused for
    having data volumes."""
    for item in made.items:
        if item["result"] != "created":
            continue
        try:
            if item["kind"] == "volume":
                rt.engine.remove_volume(item["name"])
            elif item["kind"] == "network":
                rt.engine.remove_network(item["name"])
        except Exception as error:  # noqa: BLE001 (the first failure is the one to tell)
            rt.out.warn(f"could not remove {item['kind']} {item['name']}: {error}")


def _restic_environment(rt: Runtime, target: offsite.Target) -> dict[str, str]:
    env = {"RESTIC_REPOSITORY": target.repository,
           "RESTIC_PASSWORD_FILE": offsite.PASSWORD_IN_CONTAINER}
    if target.kind == "s3":
        path = rt.config.backup_s3_credentials
        lines = read_regular_file(path, "TR4CTL_BACKUP_S3_CREDENTIALS").decode().splitlines()
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            values = [line.split("=", 1)[1].strip() for line in lines
                      if line.startswith(f"{key}=")]
            if not values:
                raise BadInput(f"{path} has no {key}= line",
                               f"write {key}=... into {path}")
            env[key] = values[0]
    return env


def _restic(rt: Runtime, target: offsite.Target, args: list[str], env: dict[str, str],
            out_dir: Path | None, what: str) -> str:
    from tr4ctl.docker.commands import run_attached

    config = rt.config
    run = offsite.restic_run(target, args, password_file=str(rt.paths.restic_password_file),
                             ssh_key=str(config.backup_ssh_key) if config.backup_ssh_key else None,
                             known_hosts=str(config.backup_ssh_known_hosts)
                             if config.backup_ssh_known_hosts else None,
                             out_dir=str(out_dir) if out_dir else None)
    argv = run_attached(config.backup_image, run.command[1:], network=rt.names.network,
                        mounts=run.mounts, env_keys=run.env_keys, entrypoint=run.command[0])
    done = rt.engine.runner.run(argv, env=env, check=False, timeout=RESTORE_TIMEOUT)
    if done.returncode != 0:
        raise OperationFailed(f"{what} failed: {done.stderr.strip()[-400:]}",
                              "check TR4CTL_BACKUP_TARGET, its credentials and the key; "
                              "nothing of the project's data was changed")
    return done.stdout


def _archive(rt: Runtime, staging: Path, directory: Path, full: offsite.Snapshot,
             newer_db: offsite.Snapshot | None) -> Path:
    work = offsite.WORK_DIR.lstrip("/")
    full_dir = staging / "full" / work / offsite.FULL_TAG
    databases = (staging / "db" / work / offsite.DB_TAG / "database") if newer_db \
        else full_dir / "database"
    parts: list[Part] = []
    files: dict[str, Path] = {}
    dump = _postgres_dump(rt, databases)
    if dump is not None:
        database = sqlite_part_on_postgres()
    else:
        database = _database_part(databases, staging, files)
    for key in VOLUME_PARTS:
        part = Part(name=volume_part_name(key), kind="volume", what=WHAT[key], volume=key)
        source = full_dir / key
        if not source.is_dir():
            part.absent = True
        else:
            tar_path = staging / part.name
            with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
                tar.add(source, arcname=".")
            part.size, part.sha256 = sha256_of(tar_path)
            files[part.name] = tar_path
        part.details["from"] = f"restic snapshot {full.id[:8]} of {full.time}"
        parts.append(part)
        if key == "backend_data":
            parts.append(database)
    env = Part(name=ENV_PART, kind="env_file", what=WHAT["env"])
    shutil.copyfile(rt.paths.env_file, staging / ENV_PART)
    env.size, env.sha256 = sha256_of(staging / ENV_PART)
    files[ENV_PART] = staging / ENV_PART
    parts.append(env)
    if dump is not None:
        # Last, as `backup create` puts it: .env (which database) goes back first.
        parts.append(_postgres_part(dump, staging, files))
    now = datetime.now(UTC)
    manifest = Manifest(kind=KIND_BACKUP, project=rt.config.project_name,
                        created_at=utc_now_text(now), tr4ctl_version=__version__,
                        env=last_environment(rt.paths).value, parts=parts, scope=SCOPE_FULL)
    path = directory / archive_file_name(manifest.project, KIND_BACKUP, now,
                                         {p.name for p in directory.iterdir()})
    write_archive(path, manifest, files)
    return path


def _postgres_dump(rt: Runtime, folder: Path) -> Path | None:
    """The snapshot's pg_dump (a stack on PostgreSQL), or None; refused when the snapshot's
    database and this project's TR4CTL_DATABASE differ (the data would go where the
    backend never reads it)."""
    dump = folder / POSTGRES_PART
    has_dump = dump.is_file()
    has_sqlite = folder.is_dir() and any(folder.glob("*.db"))
    on_postgres = rt.config.database == POSTGRES
    if has_dump and not on_postgres:
        raise BadInput("the copies hold a PostgreSQL database; this project is set to SQLite",
                       "set TR4CTL_DATABASE=postgres in this project's .env, as on the old "
                       "host, then run this again")
    if has_sqlite and not has_dump and on_postgres:
        raise BadInput("the copies hold a SQLite database; this project is set to PostgreSQL",
                       "set TR4CTL_DATABASE=sqlite in this project's .env, as on the old "
                       "host, then run this again")
    if not has_dump:
        return None
    with open(dump, "rb") as file:
        if file.read(5) != b"PGDMP":  # pg_dump's custom format starts so
            raise OperationFailed("the snapshot's database.pgdump is not a pg_dump archive",
                                  "restore another snapshot (name it after --from TARGET); "
                                  "nothing was changed")
    return dump


def _postgres_part(dump: Path, staging: Path, files: dict[str, Path]) -> Part:
    dest = staging / POSTGRES_PART
    shutil.copyfile(dump, dest)
    os.chmod(dest, 0o600)
    part = Part(name=POSTGRES_PART, kind="postgres", what=WHAT["postgres"])
    part.size, part.sha256 = sha256_of(dest)
    part.details = {"format": "pg_dump --format=custom",
                    "taken": "online, by the backup-dump service"}
    files[POSTGRES_PART] = dest
    return part


def _database_part(folder: Path, staging: Path, files: dict[str, Path]) -> Part:
    part = Part(name=DATABASE_PART, kind="sqlite", what=WHAT["database"], volume="backend_data")
    found = sorted(folder.glob("*.db")) if folder.is_dir() else []
    if not found:
        part.absent = True
        part.details["note"] = "the snapshot holds no database"
        return part
    if len(found) > 1:
        raise OperationFailed(f"the snapshot holds {len(found)} databases "
                              f"({', '.join(p.name for p in found)}): which is the backend's?",
                              "restore it by hand with restic; nothing was changed")
    source = found[0]
    # Checked before anything is replaced: restic proves the bytes, SQLite the database.
    connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()
    if verdict != "ok":
        raise OperationFailed(f"the snapshot's database fails SQLite's integrity check: {verdict}",
                              "restore another snapshot (name it after --from TARGET); nothing "
                              "was changed")
    stat = source.stat()
    dest = staging / DATABASE_PART
    shutil.copyfile(source, dest)
    part.path_in_volume = source.name
    part.owner, part.mode = f"{stat.st_uid}:{stat.st_gid}", oct(stat.st_mode & 0o777)[2:].zfill(4)
    part.size, part.sha256 = sha256_of(dest)
    part.details = {"integrity_check": "ok", "taken": "online, by the backup-schedule service"}
    files[DATABASE_PART] = dest
    os.chmod(dest, 0o600)
    return part
