"""`tr4ctl rollback [RELEASE]`: back to the previous (or the named) successful release,
by the same zero-downtime path as a deploy.

A release's code runs on a database at any migration it ships (it migrates forward from
an older one) but not on one a later release moved past its head: that rollback is
refused, unless --restore-data puts back the database as it was before the release that
moved it (the backup `deploy` took). That path stops the backend while the file is
replaced: seconds of "backend unavailable", said up front.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tr4ctl.actions.backup.create import helper_image, take_database_backup
from tr4ctl.actions.backup.location import backup_dir
from tr4ctl.actions.backup.restore import put_database_back
from tr4ctl.actions.backup.verify import check_archive
from tr4ctl.actions.deploy.release import release_backend
from tr4ctl.actions.deploy.ship import ShipReport
from tr4ctl.actions.nginx.apply import reload_nginx
from tr4ctl.docker.health import wait_healthy
from tr4ctl.docker.volumes import VolumeStreams
from tr4ctl.errors import BadInput, Interrupted, MissingPrerequisite
from tr4ctl.files import write_atomic
from tr4ctl.interrupts import deferred, signal_name
from tr4ctl.plan.backup import KIND_SAFETY
from tr4ctl.plan.releases import ROLLBACK, SUCCEEDED, History, Release, rollback_refusal, utc_text
from tr4ctl.plan.stack import render_compose
from tr4ctl.project.audit import operator, record
from tr4ctl.project.releases import read_history, write_history
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime


@dataclass
class RollbackPlan:
    target: Release
    history: History
    data_backup: str | None  # --restore-data: the database backup to put back


def plan_rollback(rt: Runtime, release_id: str | None, *, restore_data: bool) -> RollbackPlan:
    """Pre-flight, before the caller takes the lock: which release, and whether its code
    can run on the database as it is."""
    history = read_history(rt.paths)
    current = history.current
    if current is None:
        raise BadInput("no release to roll back from: this project was never deployed",
                       "`tr4ctl deploy` records releases")
    if release_id is None:
        target = history.previous_good()
        if target is None:
            raise BadInput("there is no earlier successful release to roll back to",
                           "`tr4ctl releases` lists them")
    else:
        target = history.find(release_id)
        if target is None or target.result != SUCCEEDED:
            known = ", ".join(r.id for r in history.releases if r.result == SUCCEEDED)
            raise BadInput(f"no successful release {release_id!r}", f"choose one of: {known}")
    refusal = rollback_refusal(target, database_revision(rt))
    if refusal and not restore_data:
        raise BadInput(f"cannot roll back to {target.id}: {refusal}",
                       f"`tr4ctl rollback {target.id} --restore-data` puts back the database "
                       "as it was before the release that moved it (data written since is "
                       "lost: a backup of today's is taken first)")
    backup = _backup_before_leaving(history, target) if restore_data else None
    if restore_data and backup is None:
        raise BadInput(f"no database backup taken when {target.id} was replaced",
                       "restore one by hand with `tr4ctl backup restore`")
    if backup is not None:
        _path(backup)  # still there: refused before the lock, nothing changed
    return RollbackPlan(target, history, backup)


def database_revision(rt: Runtime) -> str | None:
    """Where the running backend's database is (its own `app.manage revision`)."""
    completed = rt.engine.exec_in("backend", ["python3", "-m", "app.manage", "revision"],
                                  check=False, timeout=120)
    try:
        return json.loads(completed.stdout.strip().splitlines()[-1]).get("database")
    except (ValueError, IndexError):
        return None


def _backup_before_leaving(history: History, target: Release) -> str | None:
    """The backup the first successful release after the target took before it ran."""
    after = history.releases[history.releases.index(target) + 1:]
    return next((r.backup for r in after if r.result == SUCCEEDED and r.backup), None)


def roll_back(rt: Runtime, plan: RollbackPlan, *, timeout: float) -> ShipReport:
    """The caller holds the lock."""
    if plan.data_backup is None:
        return release_backend(rt, image=plan.target.image, kind=ROLLBACK, build=False, timeout=timeout,
                    rolled_back_to=plan.target.id)
    return _roll_back_with_data(rt, plan, timeout)


def _roll_back_with_data(rt: Runtime, plan: RollbackPlan, timeout: float) -> ShipReport:
    engine, paths = rt.engine, rt.paths
    verified = check_archive(_path(plan.data_backup))
    began = time.monotonic()
    rt.out.warn("the backend stops while its database is put back (nginx answers 502 "
                "meanwhile)")
    safety = take_database_backup(rt, backup_dir(rt, None), KIND_SAFETY)
    rt.out.info(f"today's database is saved in {safety.path}")
    inputs = replace(rt.stack_inputs, backend_image=plan.target.image)
    compose = render_compose(rt.config, last_environment(paths), paths, inputs)
    streams = VolumeStreams(engine, helper_image(rt))
    old_compose = paths.compose_file.read_text(encoding="utf-8")
    engine.compose_stop(["backend"])
    try:
        put_database_back(rt, streams, _path(plan.data_backup), verified.manifest)
        write_atomic(paths.compose_file, compose)
        engine.compose_up(["backend"])
        wait_healthy(engine, ("backend",), timeout=timeout)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: today's database and release back, the backend started.
        with deferred("putting today's database back", raise_after=False):
            put_database_back(rt, streams, safety.path, safety.manifest)
            write_atomic(paths.compose_file, old_compose)
            engine.compose_up(["backend"])
            wait_healthy(engine, ("backend",), timeout=timeout)
            reload_nginx(rt)
        raise Interrupted(f"`rollback` interrupted ({signal_name()}) while the database was "
                          "put back: today's database and release are back",
                          "`tr4ctl status` shows the stack") from None
    reload_nginx(rt)  # the recreated backend may have a new address
    release = replace(plan.target, id=plan.history.next_id(), kind=ROLLBACK,
                      time=utc_text(datetime.now(UTC)), by=operator(), result=SUCCEEDED,
                      backup=str(safety.path), rolled_back_to=plan.target.id,
                      seconds=round(time.monotonic() - began, 2), failed_step=None, reason=None)
    plan.history.releases.append(release)
    write_history(paths, plan.history)
    record(paths, ROLLBACK, datetime.now(UTC), release=release.id, image=release.image,
                 result=SUCCEEDED, rolled_back_to=plan.target.id, restored=plan.data_backup,
                 backup=release.backup, seconds=release.seconds)
    return ShipReport(release, plan.history.releases[-2] if len(plan.history.releases) > 1
                      else None, {"total": release.seconds or 0.0})


def _path(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise MissingPrerequisite(f"the database backup {path} is gone",
                                  "restore another one with `tr4ctl backup restore`; nothing "
                                  "was changed")
    return path
