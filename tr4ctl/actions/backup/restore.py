"""`tr4ctl backup restore`: put an archive's state back, or leave the old one intact.

Pre-flight (no impact yet): the whole archive is read and checked against its
manifest and against what an archive may hold (every member of it and of each
volume's tar), its format and project are checked, the .env it will write is made
and loaded, and the safety backup's room on disk is checked.

An archive is data, never instructions: the restore acts on this folder's project.
An archive of another project is refused unless the operator names this project with
--as-project; the .env written keeps this folder's project name and host settings
(plan/backup.py: FOLDER_SETTINGS, PLACEMENT_SETTINGS), whatever the archive's says.
Then: the stack is stopped (nothing writes while the current state is saved, so the
safety backup is exact), the safety backup is taken, the journal is written, the
volumes and .env are replaced, the journal is removed, and the stack comes back up.

If the process dies between the journal and its removal, the volumes may be a mix:
the journal keeps `up` from serving them and names the way out (this restore again,
or the safety backup).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tr4ctl.actions.backup.archive import CHUNK, HashingReader, VerifyResult, stream_parts
from tr4ctl.actions.backup.create import (
    CreatedBackup,
    estimated_bytes,
    helper_image,
    present_volumes,
    take_backup,
    take_database_backup,
)
from tr4ctl.actions.backup.location import check_space, prepare_dir
from tr4ctl.actions.backup.verify import check_archive
from tr4ctl.actions.db.identity import record_restored_database
from tr4ctl.actions.db.postgres import recreate_database, restore_dump, set_password, start_postgres
from tr4ctl.actions.deploy.ship import step_recorder, steps_ended
from tr4ctl.actions.stack.init import ensure_volumes_and_network
from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.actions.stack.private_files import write_private_files
from tr4ctl.actions.stack.up import bring_up
from tr4ctl.docker.health import wait_healthy
from tr4ctl.docker.volumes import VolumeStreams
from tr4ctl.errors import BadInput, Interrupted, OperationFailed, Tr4ctlError
from tr4ctl.files import PRIVATE, write_atomic, write_atomic_chunks
from tr4ctl.interrupts import deferred, signal_name
from tr4ctl.plan.backup import (
    DEFAULT_PROJECT,
    ENV_PART,
    FOLDER_SETTINGS,
    KIND_SAFETY,
    PLACEMENT_SETTINGS,
    PROJECT_NAME_KEY,
    SCOPE_DATABASE,
    EnvRewrite,
    Manifest,
    Part,
    RestoreJournal,
    env_rewrite,
    restore_command,
    utc_now_text,
)
from tr4ctl.plan.database import current_url, postgres_database
from tr4ctl.plan.stack import render_compose
from tr4ctl.project.journal import clear_journal, read_journal, write_journal
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime


@dataclass
class RestoreReport:
    archive: Path
    manifest: Manifest
    safety_backup: str | None
    resumed: bool
    restored: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    up: object | None = None  # UpReport


@dataclass(frozen=True)
class PreparedEnv:
    archived: bytes  # the env part as verified
    text: bytes  # what is written: the archive's, with this folder's identity
    rewrite: EnvRewrite


@dataclass
class Restorable:
    """An archive checked for this folder's project, and the .env it would write."""

    verified: VerifyResult
    env: PreparedEnv | None
    as_project: str | None = None  # as given: the journal keeps it for a rerun

    @property
    def manifest(self) -> Manifest:
        return self.verified.manifest


def check_restorable(rt: Runtime, archive: Path, as_project: str | None = None) -> Restorable:
    """The archive's own checks, done before waiting for the stack's lock: nothing of it
    is trusted, and it must be of this folder's project (or the operator names this
    project with --as-project)."""
    project = rt.config.project_name
    if as_project is not None and as_project != project:
        raise BadInput(f"--as-project {as_project} is not this folder's project ({project})",
                       f"--as-project names the project the data goes into: give {project}, "
                       f"or run from the folder of {as_project} (--project-dir); nothing was "
                       "changed")
    verified = check_archive(archive)
    manifest = verified.manifest
    if manifest.project != project and as_project is None:
        raise BadInput(f"the archive is of project {manifest.project}, this folder is project "
                       f"{project}",
                       f"to put its data into {project}, add --as-project {project}; to restore "
                       f"project {manifest.project}, run the restore from its folder "
                       "(--project-dir); nothing was changed")
    return Restorable(verified, prepare_env(rt, verified), as_project)


def prepare_env(rt: Runtime, verified: VerifyResult) -> PreparedEnv | None:
    """The .env a restore writes: the archive's, keeping this folder's project name and
    host settings; loaded as the next command will load it (bad input if it does not)."""
    if verified.env_text is None:
        return None
    from tr4ctl.config.envfile import with_values, without_keys
    from tr4ctl.config.load import parse_env_text, read_env_file, resolve

    env_file = rt.paths.env_file
    project = rt.config.project_name
    text = verified.env_text.decode("utf-8")  # checked by check_archive
    archived = parse_env_text(text, env_file).values
    current = read_env_file(env_file).values if env_file.exists() else None
    rewrite = env_rewrite(archived, current, project)
    try:
        if rewrite.changes:
            text = without_keys(with_values(text, rewrite.set), rewrite.unset)
        written = parse_env_text(text, env_file).values
        config = resolve(parse_env_text(text, env_file), os.environ, rt.config_options)
    except (ValueError, BadInput) as exc:
        reason = exc.message if isinstance(exc, BadInput) else str(exc)
        raise BadInput(f"the archive's .env cannot be used in this folder: {reason}",
                       "use another archive; nothing was changed") from None
    kept = {key: (current or {}).get(key) or None for key in FOLDER_SETTINGS}
    if current is not None:
        kept.update({key: current.get(key) or None for key in PLACEMENT_SETTINGS})
    kept.pop(PROJECT_NAME_KEY)
    named = written.get(PROJECT_NAME_KEY) or DEFAULT_PROJECT
    moved = [key for key, value in kept.items() if (written.get(key) or None) != value]
    if named != project or config.project_name != project or moved:
        # The rewrite did not take (a multi-line value hiding a setting): never guess.
        raise BadInput(f"the archive's .env cannot be written without changing this folder's "
                       f"project or host settings ({env_file})",
                       "use another archive; nothing was changed")
    return PreparedEnv(verified.env_text, text.encode("utf-8"), rewrite)


def restore_backup(rt: Runtime, archive: Path, checked: Restorable, safety_dir: Path, *,
                   confirm: Callable[[Manifest], bool], timeout: float,
                   on_safety: Callable[[CreatedBackup], None] | None = None) -> RestoreReport:
    """The caller holds the stack's lock and has run check_restorable (the parts are
    checked against the manifest again as they are streamed, and a volume's tar is
    unpacked by a confined extraction)."""
    manifest = checked.manifest
    if manifest.scope == SCOPE_DATABASE:
        return restore_database(rt, archive, manifest, safety_dir, confirm=confirm,
                                timeout=timeout, on_safety=on_safety)
    # -- pre-flight: no impact yet --------------------------------------------------------
    # Again under the lock: this folder's .env is the one a restore keeps settings from.
    env = prepare_env(rt, checked.verified)
    if env and env.rewrite.not_taken:
        taken = ", ".join(f"{key}={value}" for key, value in env.rewrite.not_taken.items())
        rt.out.warn(f"not taken from the archive's .env (this folder keeps its own): {taken}")
    interrupted, journal = read_journal(rt.paths)
    engine = rt.engine
    engine.require_engine()
    streams = VolumeStreams(engine, helper_image(rt))
    present = present_volumes(rt)
    if not interrupted:
        # An interrupted restore's volumes are a mix: its safety backup is the way back,
        # and a new one would only save the mix.
        prepare_dir(safety_dir)
        check_space(safety_dir, estimated_bytes(rt, streams, present), "safety backup")
    if not confirm(manifest):
        raise BadInput("restore not confirmed", "nothing was changed")

    # -- from here on, things change ---------------------------------------------------
    report = RestoreReport(archive=archive, manifest=manifest, safety_backup=None,
                           resumed=interrupted)
    record = step_recorder(rt, COMMAND)
    rerun = restore_command(str(archive), checked.as_project)
    was_running = any(s.state == "running" for name, s in
                      engine.service_states(rt.services).items())
    try:
        record("stop")
        if rt.paths.compose_file.exists():
            engine.compose_down(timeout=10)
        streams.remove_leftover_helpers()
        if interrupted:
            report.safety_backup = journal.safety_backup if journal else None
            rt.out.warn("finishing an interrupted restore: no new safety backup (the volumes "
                        "may be a mix)")
        else:
            record("safety")
            safety = take_backup(rt, streams, safety_dir, KIND_SAFETY, present)
            report.safety_backup = str(safety.path)
            if on_safety:
                on_safety(safety)
    except BaseException as exc:  # noqa: BLE001 - Ctrl-C, SIGTERM too start it again
        # Nothing was replaced yet: the stack as it was, started again.
        outcome = "nothing was replaced"
        with deferred("starting the stack again", raise_after=False):
            if was_running:
                outcome = _bring_back(rt, streams, timeout)
            steps_ended(rt.paths, COMMAND, exc, outcome)
        raise _interrupted(exc, outcome, rerun) from None

    try:
        record("replace")
        write_journal(rt.paths, RestoreJournal(
            archive=str(archive.resolve()), safety_backup=report.safety_backup,
            started_at=utc_now_text(datetime.now(UTC)), pid=os.getpid(),
            as_project=checked.as_project))
        _replace_all(rt, streams, archive, manifest, report, env)
    except KeyboardInterrupt as exc:
        # Asked to stop half way: the volumes are a mix. The safety backup (taken a moment
        # ago, of exactly this stack) goes back in, and the stack as it was starts again.
        with deferred("putting the safety backup back", raise_after=False):
            outcome = _put_safety_back(rt, streams, report.safety_backup, timeout, rerun)
            steps_ended(rt.paths, COMMAND, exc, outcome)
        raise _interrupted(exc, outcome, rerun) from None
    except Exception:
        steps_ended(rt.paths, COMMAND)  # the journal, kept, names the way out
        raise

    # Every part is in place: the state is the archive's, whatever happens next.
    rt.reload_config()
    record_restored_database(rt)
    steps_ended(rt.paths, COMMAND)
    try:
        report.up = bring_up(rt, last_environment(rt.paths), build=False, timeout=timeout)
    except Interrupted:
        raise  # `up` names its own step; the archive's data is in place
    except Tr4ctlError as exc:
        # The data was restored; only starting it failed (a missing image stays 3).
        kind = OperationFailed if isinstance(exc, BadInput) else type(exc)
        raise kind(f"the archive was restored, but the stack did not come up: "
                   f"{exc.message}", exc.hint, details=exc.details) from None
    return report


COMMAND = "backup restore"


def _replace_all(rt: Runtime, streams: VolumeStreams, archive: Path, manifest: Manifest,
                 report: RestoreReport, env: PreparedEnv | None) -> None:
    """Every part of the archive in place (the journal is written), then the journal
    removed."""
    ensure_volumes_and_network(rt, InitReport())
    names = rt.names
    for part in manifest.parts:
        if part.absent and part.kind == "volume":
            streams.empty_volume(names.volume(part.volume))
            report.emptied.append(part.volume)
    for part, reader in stream_parts(archive, manifest):
        _restore_part(rt, streams, part, reader, env)
        report.restored.append(part.name)
    clear_journal(rt.paths)


def _put_safety_back(rt: Runtime, streams: VolumeStreams, safety_backup: str | None,
                     timeout: float, rerun: str) -> str:
    """After an interruption half way: the safety backup in place, the stack started;
    what serves now, in a few words. On failure the journal stays, and says the way out."""
    if not safety_backup:
        return f"the volumes may be a mix: run the restore again (`{rerun}`)"
    try:
        streams.remove_leftover_helpers()  # the one the signal stopped may still write
        safety = Path(safety_backup)
        checked = check_archive(safety)
        _replace_all(rt, streams, safety, checked.manifest,
                     RestoreReport(safety, checked.manifest, None, resumed=True),
                     prepare_env(rt, checked))
        rt.reload_config()
        record_restored_database(rt)
        bring_up(rt, last_environment(rt.paths), build=False, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the interruption is what is reported
        rt.out.warn(f"could not put the safety backup back: {exc}")
        return (f"the volumes may be a mix: restore the safety backup {safety_backup} "
                "(the journal says so)")
    return "the safety backup is back in place and the stack runs as before"


def _interrupted(exc: BaseException, outcome: str, rerun: str | None = None) -> BaseException:
    if isinstance(exc, KeyboardInterrupt):
        again = f"; to restore it after all: `{rerun}`" if rerun else ""
        return Interrupted(f"`{COMMAND}` interrupted ({signal_name()}): {outcome}",
                           f"`tr4ctl status` shows the stack{again}")
    return exc


def restore_database(rt: Runtime, archive: Path, manifest: Manifest, safety_dir: Path, *,
                     confirm: Callable[[Manifest], bool], timeout: float,
                     on_safety: Callable[[CreatedBackup], None] | None = None
                     ) -> RestoreReport:
    """Only the database (an archive `deploy` took): the backend stops while its file is
    replaced, everything else keeps running. The file is renamed into place, so it is
    the old database or the new one, never half of one."""
    engine = rt.engine
    engine.require_engine()
    streams = VolumeStreams(engine, helper_image(rt))
    prepare_dir(safety_dir)
    if not confirm(manifest):
        raise BadInput("restore not confirmed", "nothing was changed")
    report = RestoreReport(archive=archive, manifest=manifest, safety_backup=None,
                           resumed=False)
    record = step_recorder(rt, COMMAND)
    try:
        record("safety")
        safety = take_database_backup(rt, safety_dir, KIND_SAFETY)
    except BaseException as exc:  # noqa: BLE001 - the record cleared whatever ended it
        steps_ended(rt.paths, COMMAND, exc, "nothing was replaced")
        raise _interrupted(exc, "nothing was replaced") from None
    report.safety_backup = str(safety.path)
    if on_safety:
        on_safety(safety)
    record("replace")
    engine.compose_stop(["backend"])
    outcome = None
    try:
        report.restored = put_database_back(rt, streams, archive, manifest)
    except KeyboardInterrupt as exc:
        with deferred("putting the safety backup back", raise_after=False):
            try:
                put_database_back(rt, streams, safety.path, safety.manifest)
                outcome = "the database as it was is back in place"
            except Exception as undo:  # noqa: BLE001 - the interruption is reported
                rt.out.warn(f"could not put the database back: {undo}")
                outcome = f"the database may be half restored: restore {safety.path}"
        raise _interrupted(exc, outcome) from None
    finally:
        with deferred("starting the backend again", raise_after=outcome is None):
            engine.compose_start(["backend"])
            wait_healthy(engine, ("backend",), timeout=timeout)
            steps_ended(rt.paths, COMMAND, None if outcome is None else KeyboardInterrupt(),
                        outcome)
    return report


def put_database_back(rt: Runtime, streams: VolumeStreams, archive: Path,
                      manifest: Manifest) -> list[str]:
    """A database-only archive's database in place of the current one (the backend
    is stopped by the caller): a SQLite file renamed in, or a PostgreSQL database made
    empty and restored. `manifest` is the one check_archive verified."""
    restored = []
    for part, reader in stream_parts(archive, manifest):
        if part.kind == "postgres":
            name = part.details.get("database") or postgres_database(current_url(rt.config))
            recreate_database(rt, name)
            restore_dump(rt, name, reader)
        else:
            streams.replace_database(rt.names.volume(part.volume), part.path_in_volume, reader,
                                     owner=part.owner or "0:0", mode=part.mode or "600")
        restored.append(part.name)
    return restored


def _restore_part(rt: Runtime, streams: VolumeStreams, part: Part,
                  reader: HashingReader, env: PreparedEnv | None) -> None:
    names = rt.names
    if part.kind == "volume":
        streams.replace_volume(names.volume(part.volume), reader)
    elif part.kind == "sqlite":
        streams.replace_database(names.volume(part.volume), part.path_in_volume, reader,
                                 owner=part.owner or "0:0", mode=part.mode or "600")
    elif part.kind == "postgres":
        _restore_postgres(rt, part, reader)
    elif part.kind == "env_file":
        archived = b"".join(iter(lambda: reader.read(CHUNK), b""))
        if env is None or archived != env.archived:
            raise OperationFailed(f"the archive changed since it was verified ({ENV_PART} "
                                  "differs)")
        # Atomically, 0600 from the first byte (the .env holds the secrets).
        write_atomic_chunks(rt.paths.env_file, [env.text], PRIVATE)
    else:
        raise OperationFailed(f"the archive has a part of unknown kind {part.kind!r}")


def _restore_postgres(rt: Runtime, part: Part, reader: HashingReader,
                      timeout: float = 180.0) -> None:
    """The archive's .env is in place (its part comes first): PostgreSQL started with
    it, its role given that .env's password, the database made empty, the dump in."""
    rt.reload_config()
    write_private_files(rt, InitReport())
    compose = render_compose(rt.config, last_environment(rt.paths), rt.paths, rt.stack_inputs)
    write_atomic(rt.paths.compose_file, compose)
    start_postgres(rt, timeout)
    set_password(rt, rt.config.database_password or "")
    name = part.details.get("database") or postgres_database(current_url(rt.config))
    recreate_database(rt, name)
    restore_dump(rt, name, reader)


def _bring_back(rt: Runtime, streams: VolumeStreams, timeout: float) -> str:
    """The safety backup was cut short after the stack was stopped: the stack started
    again as it was. What is true afterwards, in a few words (it may not have started)."""
    env = last_environment(rt.paths)
    try:
        # The copy the interruption cut short may still be reading the volumes.
        streams.remove_leftover_helpers()
        bring_up(rt, env, build=False, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the interruption is what is reported
        reason = exc.message if isinstance(exc, Tr4ctlError) else f"{type(exc).__name__}: {exc}"
        return (f"nothing was replaced, but the stack did not start again ({reason}); "
                f"`tr4ctl up --env {env.value}` starts it")
    return "nothing was replaced; the stack runs as before"
