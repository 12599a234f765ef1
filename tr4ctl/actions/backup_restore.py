"""`tr4ctl backup restore`: put an archive's state back, or leave the old one intact.

Pre-flight (no impact yet): the whole archive is read and checked against its
manifest, its format and project are checked, and the safety backup's room on disk.
Then: the stack is stopped (nothing writes while the current state is saved, so the
safety backup is exact), the safety backup is taken, the journal is written, the
volumes and .env are replaced, the journal is removed, and the stack comes back up.

If the process dies between the journal and its removal, the volumes may be a mix:
the journal keeps `up` from serving them and names the way out (this restore again,
or the safety backup).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tr4ctl.actions.backup import (
    CreatedBackup,
    check_space,
    estimated_bytes,
    helper_image,
    prepare_dir,
    present_volumes,
    take_backup,
)
from tr4ctl.actions.backup_archive import HashingReader, stream_parts, verify_archive
from tr4ctl.actions.backup_journal import clear_journal, read_journal, write_journal
from tr4ctl.cli.context import AppContext
from tr4ctl.engine import VolumeStreams
from tr4ctl.errors import BadInput, OperationFailed, Tr4ctlError
from tr4ctl.plan.backup import (
    KIND_SAFETY,
    Manifest,
    Part,
    RestoreJournal,
    utc_now_text,
)
from tr4ctl.plan.layout import LONG_RUNNING_SERVICES


@dataclass
class RestoreReport:
    archive: Path
    manifest: Manifest
    safety_backup: str | None
    resumed: bool
    restored: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    up: object | None = None  # UpReport


def check_archive(path: Path) -> Manifest:
    """Everything about the archive itself, before anything else is looked at."""
    result = verify_archive(path)
    if not result.ok:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise OperationFailed(f"{path} failed verification: {result.problems[0]}{more}",
                              "use another archive; nothing was changed")
    return result.manifest


def check_restorable(ctx: AppContext, archive: Path) -> Manifest:
    """The archive's own checks, done before waiting for the stack's lock."""
    manifest = check_archive(archive)
    project = ctx.settings.project_name
    if manifest.project != project:
        raise BadInput(f"the archive is of project {manifest.project}, this is project {project}",
                       f"restore it with --project-name {manifest.project} (its volumes are "
                       "named after it); nothing was changed")
    return manifest


def restore_backup(ctx: AppContext, archive: Path, manifest: Manifest, safety_dir: Path, *,
                   confirm: Callable[[Manifest], bool], timeout: float,
                   on_safety: Callable[[CreatedBackup], None] | None = None) -> RestoreReport:
    """The caller holds the stack's lock and has run check_restorable (the parts are
    checked against the manifest again as they are streamed)."""
    # -- pre-flight: no impact yet --------------------------------------------------------
    interrupted, journal = read_journal(ctx)
    engine = ctx.engine
    engine.require_engine()
    streams = VolumeStreams(engine, helper_image(ctx))
    present = present_volumes(ctx)
    if not interrupted:
        # An interrupted restore's volumes are a mix: its safety backup is the way back,
        # and a new one would only save the mix.
        check_space(safety_dir, estimated_bytes(ctx, streams, present), "safety backup")
    if not confirm(manifest):
        raise BadInput("restore not confirmed", "nothing was changed")

    # -- from here on, things change ---------------------------------------------------
    report = RestoreReport(archive=archive, manifest=manifest, safety_backup=None,
                           resumed=interrupted)
    was_running = any(s.state == "running" for name, s in
                      engine.service_states(LONG_RUNNING_SERVICES).items())
    if ctx.paths.compose_file.exists():
        engine.compose_down(timeout=10)
    streams.remove_leftover_helpers()
    if interrupted:
        report.safety_backup = journal.safety_backup if journal else None
        ctx.out.warn("finishing an interrupted restore: no new safety backup (the volumes "
                     "may be a mix)")
    else:
        try:
            prepare_dir(safety_dir)
            safety = take_backup(ctx, streams, safety_dir, KIND_SAFETY, present)
        except BaseException:
            if was_running:
                _bring_back(ctx, timeout)
            raise
        report.safety_backup = str(safety.path)
        if on_safety:
            on_safety(safety)

    write_journal(ctx, RestoreJournal(
        archive=str(archive.resolve()), safety_backup=report.safety_backup,
        started_at=utc_now_text(datetime.now(UTC)), pid=os.getpid()))
    from tr4ctl.actions.init import InitReport, ensure_volumes_and_network

    ensure_volumes_and_network(ctx, InitReport())
    names = ctx.names
    for part in manifest.parts:
        if part.absent and part.kind == "volume":
            streams.empty_volume(names.volume(part.volume))
            report.emptied.append(part.volume)
    for part, reader in stream_parts(archive):
        _restore_part(ctx, streams, part, reader)
        report.restored.append(part.name)
    clear_journal(ctx)

    # Every part is in place: the state is the archive's, whatever happens next.
    ctx.reload_settings()
    from tr4ctl.actions.init import last_environment
    from tr4ctl.actions.up import bring_up

    try:
        report.up = bring_up(ctx, last_environment(ctx), build=False, timeout=timeout)
    except Tr4ctlError as exc:
        # Not bad input any more: the data was restored; only starting it failed.
        raise OperationFailed(f"the archive was restored, but the stack did not come up: "
                              f"{exc.message}", exc.hint, details=exc.details) from None
    return report


def _restore_part(ctx: AppContext, streams: VolumeStreams, part: Part,
                  reader: HashingReader) -> None:
    names = ctx.names
    if part.kind == "volume":
        streams.replace_volume(names.volume(part.volume), reader)
    elif part.kind == "sqlite":
        streams.write_file(names.volume(part.volume), part.path_in_volume, reader,
                           owner=part.owner or "0:0", mode=part.mode or "600")
    elif part.kind == "env_file":
        _write_private_bytes(ctx.paths.env_file, reader)
    else:
        raise OperationFailed(f"the archive has a part of unknown kind {part.kind!r}")


def _write_private_bytes(path: Path, reader: HashingReader) -> None:
    """Atomically, 0600 from the first byte (the .env holds the secrets)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            while chunk := reader.read():
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bring_back(ctx: AppContext, timeout: float) -> None:
    """The safety backup failed after the stack was stopped: start it again as it was."""
    from tr4ctl.actions.init import last_environment
    from tr4ctl.actions.up import bring_up

    try:
        bring_up(ctx, last_environment(ctx), build=False, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the original failure is the one to report
        ctx.out.warn(f"could not start the stack again: {exc}; run `tr4ctl up`")
