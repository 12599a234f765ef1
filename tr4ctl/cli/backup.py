"""backup create | list | verify | restore: the stack's data in one archive, and back."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tr4ctl.cli.common import backup_dir_option, examples, maintenance_option, runtime
from tr4ctl.errors import BadInput
from tr4ctl.runtime import Runtime

BACKUP_DIR_DEFAULT = "(default: TR4CTL_BACKUP_DIR, else <project-dir>/backups)"

app = typer.Typer(help="Back up and restore the database, Chroma, certificates and .env.",
                  no_args_is_help=True)


@app.command("create", epilog=examples("tr4ctl backup create",
                                       "tr4ctl backup create --dir /srv/backups --keep 7"))
def create(
    ctx: typer.Context,
    directory: Path = backup_dir_option(f"Directory for the archive {BACKUP_DIR_DEFAULT}."),
    old_output: Path = typer.Option(None, "--output", "-o", file_okay=False, hidden=True,
                                    help="The former name of --dir."),
    keep: int = typer.Option(None, "--keep", min=1, metavar="N",
                             help="Then delete this project's older archives in that directory, "
                                  "keeping the newest N (safety backups are never deleted)."),
) -> None:
    """Write one archive (0600) of the stack's data.

    The SQLite database is copied with SQLite's online backup API while the backend
    serves; Chroma is stopped for the moment its store is copied; the certbot
    configuration (certificates, ACME account) and .env complete it.
    """
    from tr4ctl.actions.backup.create import create_backup

    rt = runtime(ctx)
    directory = _renamed(rt, directory, old_output, "--output")
    with rt.changing("backup create"):
        created = create_backup(rt, directory, keep)
    out = rt.out
    from tr4ctl.plan.backup import human_bytes

    out.table(None, ["part", "size", "what"],
              [[p.name, "absent" if p.absent else human_bytes(p.size), p.what]
               for p in created.manifest.parts], wrap=("what",))
    for name in created.pruned:
        out.info(f"pruned {name}")
    out.success(f"backup written: {created.path} ({human_bytes(created.size)})")
    out.emit("backup create", {
        "path": str(created.path), "size": created.size,
        "manifest": _manifest_data(created.manifest),
        "stopped_seconds": created.stopped_seconds, "pruned": created.pruned,
    })


@app.command("list", epilog=examples("tr4ctl backup list", "tr4ctl backup list --dir /srv/backups",
                                     "tr4ctl backup list --json"))
def list_(
    ctx: typer.Context,
    directory: Path = backup_dir_option(f"Directory to list {BACKUP_DIR_DEFAULT}."),
) -> None:
    """The archives in the backup directory, oldest first, from their manifests."""
    from dataclasses import asdict

    from tr4ctl.actions.backup.list import list_backups
    from tr4ctl.plan.backup import human_bytes

    rt = runtime(ctx)
    where, listed = list_backups(rt, directory)
    rt.out.table(f"{len(listed)} archive(s) in {where}",
                      ["file", "kind", "created", "project", "size", "tr4ctl"],
                      [[e.file, e.kind or "-", e.created_at or (e.problem or "-"),
                        e.project or "-", human_bytes(e.size), e.tr4ctl_version or "-"]
                       for e in listed])
    scheduled = _schedule(rt)
    rt.out.emit("backup list", {"directory": str(where),
                                     "archives": [asdict(e) for e in listed],
                                     "schedule": scheduled.data() if scheduled else None})


def _schedule(rt: Runtime):
    """TR4CTL_BACKUP_SCHEDULE's last run, said on stderr; None without a schedule or a
    running service."""
    from tr4ctl.actions.backup.schedule import schedule_report

    if not rt.config.backup_schedule:
        return None
    scheduled = schedule_report(rt)
    if scheduled is not None:
        say = rt.out.warn if scheduled.problem else rt.out.info
        say(f"scheduled backup ({scheduled.schedule} to {scheduled.target}): {scheduled.words}")
    return scheduled


@app.command("verify", epilog=examples("tr4ctl backup verify backups/tr4ction-backup-20250101T000000Z.tar.gz",
                                       "tr4ctl backup verify --offsite"))
def verify(
    ctx: typer.Context,
    archive: Path = typer.Argument(None, dir_okay=True, metavar="ARCHIVE",
                                   help="The .tar.gz archive."),
    offsite: bool = typer.Option(False, "--offsite",
                                 help="Instead, read every copy at TR4CTL_BACKUP_TARGET back "
                                      "(restic check --read-data) and say the last "
                                      "scheduled run."),
) -> None:
    """Read the whole archive: every part's sha256 against the manifest (exit 1 if not),
    and every member of it and of each volume's tar against what a backup may hold:
    no absolute path or '..', no link leading out of its volume, no device or FIFO,
    no more bytes than the manifest says, a .env of the manifest's project (exit 2 if
    not). With --offsite, the copies off the host instead (exit 1 if damaged)."""
    rt = runtime(ctx)
    if offsite == (archive is not None):
        raise BadInput("name an ARCHIVE or give --offsite (one of the two)",
                       "tr4ctl backup verify ARCHIVE, or tr4ctl backup verify --offsite")
    if offsite:
        from tr4ctl.actions.backup.schedule import check_offsite

        scheduled = _schedule(rt)
        checked = check_offsite(rt)
        rt.out.success(f"the copies at {checked.target} are intact: every pack read back")
        rt.out.emit("backup verify", {"offsite": checked.target, "ok": True,
                                      "schedule": scheduled.data() if scheduled else None})
        return
    from tr4ctl.actions.backup.verify import check_archive

    manifest = check_archive(archive).manifest
    rt.out.success(f"{archive} is intact: {len(manifest.members)} parts match the "
                        f"manifest (project {manifest.project}, {manifest.created_at})")
    rt.out.emit("backup verify", {"path": str(archive), "ok": True,
                                       "manifest": _manifest_data(manifest)})


@app.command("restore", epilog=examples(
    "tr4ctl backup restore backups/tr4ction-backup-20250101T000000Z.tar.gz",
    "tr4ctl backup restore ARCHIVE --yes --dir /srv/backups",
    "tr4ctl --project-dir /srv/staging backup restore prod-backup.tar.gz --as-project staging",
    "tr4ctl backup restore --from sftp:backup@store.example.org:/srv/restic --key-file tr4ction.key --yes"))
def restore(
    ctx: typer.Context,
    archive: str = typer.Argument(None, metavar="ARCHIVE|SNAPSHOT",
                                  help="The .tar.gz archive to restore; with --from, a full "
                                       "snapshot's id (default: the newest, with the newest "
                                       "database copy)."),
    source: str = typer.Option(None, "--from", metavar="TARGET",
                               help="Restore a fresh project (no volumes yet) from the copies "
                                    "at TARGET (TR4CTL_BACKUP_TARGET's form), verified first."),
    key_file: Path = typer.Option(None, "--key-file", metavar="FILE",
                                  help="With --from: the key `backup key export` printed "
                                       "(kept 0600 in this project)."),
    yes: bool = typer.Option(False, "--yes", help="Replace the current data without asking."),
    directory: Path = backup_dir_option("Where the safety backup of the current state goes "
                                        f"{BACKUP_DIR_DEFAULT}."),
    old_safety_dir: Path = typer.Option(None, "--safety-dir", file_okay=False, hidden=True,
                                        help="The former name of --dir."),
    timeout: float = typer.Option(180.0, "--timeout", min=1, metavar="SECONDS",
                                  help="Seconds to wait for the stack to be healthy again."),
    as_project: str = typer.Option(None, "--as-project", metavar="NAME",
                                   help="Restore an archive of another project into this "
                                        "folder's project NAME (its name, volumes and "
                                        "network stay this project's)."),
    maintenance: bool = maintenance_option("restore"),
) -> None:
    """Replace the stack's data with an archive's, and bring the stack back healthy.

    The archive is verified before anything changes (as `backup verify` does); the
    current state is saved first (the safety backup); an interrupted restore is
    finished by running it again. The restore acts on this folder's project only: an
    archive of another one is refused unless --as-project names this project, and the
    .env it writes keeps this folder's project name and host settings (bind address,
    ports, target, host paths), whatever the archive's .env says.
    """
    from tr4ctl.actions.backup.location import backup_dir
    from tr4ctl.actions.backup.restore import check_restorable, restore_backup

    rt = runtime(ctx)
    out = rt.out
    directory = _renamed(rt, directory, old_safety_dir, "--safety-dir")

    def confirm(manifest) -> bool:
        project = rt.names.project
        volumes = ", ".join(rt.names.volume(part.volume) for part in manifest.parts
                            if part.kind == "volume")
        source = (f"project {manifest.project}'s backup" if manifest.project != project
                  else "the backup")
        if yes:
            out.info(f"replacing the data of project {project} ({volumes}, .env) with "
                     f"{source} of {manifest.created_at}")
            return True
        if not sys.stdin.isatty():
            raise BadInput(f"restoring replaces all data of project {project} "
                           f"({volumes}, .env)", "add --yes to confirm; nothing was changed")
        return typer.confirm(f"Replace all data of project {project} ({volumes}, "
                             f".env) with {source} of {manifest.created_at}?", err=True)

    def announce(safety) -> None:
        out.info(f"safety backup of the current state: {safety.path}")

    if source is None and archive is None:
        raise BadInput("name the ARCHIVE to restore", "tr4ctl backup restore ARCHIVE, or "
                       "tr4ctl backup restore --from TARGET")
    if source is None and key_file is not None:
        raise BadInput("--key-file goes with --from", "tr4ctl backup restore --from TARGET "
                       "--key-file FILE")
    from tr4ctl.actions.maintenance.switch import maintenance_during

    # A named archive is checked before waiting for the lock; --from fetches it under the
    # lock: one lock, and one audit line, for the fetch and the restore.
    checked = check_restorable(rt, Path(archive), as_project) if source is None else None
    with rt.changing("backup restore"):
        if source is not None:
            from tr4ctl.actions.backup.offsite_restore import fetch_archive

            archive = fetch_archive(rt, source, archive, key_file, backup_dir(rt, directory))
            out.info(f"the snapshot as an archive: {archive}")
            checked = check_restorable(rt, archive, as_project)
        archive = Path(archive)
        with maintenance_during(rt, maintenance, "restore"):
            report = restore_backup(rt, archive, checked, backup_dir(rt, directory),
                                    confirm=confirm, timeout=timeout, on_safety=announce)
    out.success(f"restored {archive} (backup of {report.manifest.created_at}); the stack is "
                "healthy")
    if report.safety_backup:
        out.info(f"the previous state is in {report.safety_backup}; undo with "
                 f"`{_undo_command(rt, report.safety_backup)}`")
    out.emit("backup restore", {
        "archive": str(archive), "created_at": report.manifest.created_at,
        "safety_backup": report.safety_backup, "resumed": report.resumed,
        "restored": report.restored, "emptied": report.emptied,
        "env": getattr(report.up, "env", None),
    })


def _undo_command(rt: Runtime, safety_backup: str) -> str:
    """A command to copy as it is: quoted, and naming the project dir unless it is here."""
    import shlex

    where = ([] if rt.project_dir == Path.cwd().resolve()
             else ["--project-dir", str(rt.project_dir)])
    return shlex.join(["tr4ctl", *where, "backup", "restore", safety_backup, "--yes"])


def _renamed(rt: Runtime, value: Path | None, old_value: Path | None, old_name: str
             ) -> Path | None:
    """One name for the backup directory everywhere (--dir); the former names still
    work, so existing scripts and cron jobs keep running."""
    if old_value is None:
        return value
    if value is not None:
        raise BadInput(f"--dir and {old_name} name the same directory", "give only --dir")
    rt.out.warn(f"{old_name} is now --dir")
    return old_value


def _manifest_data(manifest) -> dict:
    from dataclasses import asdict

    return asdict(manifest)


key_app = typer.Typer(help="The off-host copies' encryption key.", no_args_is_help=True)
app.add_typer(key_app, name="key")


@key_app.command("export", epilog=examples("tr4ctl backup key export > /media/safe/tr4ction.key"))
def key_export(ctx: typer.Context) -> None:
    """Print the key that encrypts the copies at TR4CTL_BACKUP_TARGET (restic's password).

    It is kept 0600 in the project only, never at the target: without it the copies
    cannot be read. Keep it away from this host.
    """
    from tr4ctl.actions.backup.key import KEY_WARNING, export_key

    rt = runtime(ctx)
    key = export_key(rt)
    rt.out.warn(KEY_WARNING)
    if not rt.out.json_mode:
        sys.stdout.write(key + "\n")
    rt.out.emit("backup key export", {"key": key, "warning": KEY_WARNING})
