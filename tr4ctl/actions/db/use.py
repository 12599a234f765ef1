"""`tr4ctl db use sqlite|postgres`: move the data into the other database, verified,
with writes stopped for as short a time as the copy takes.

  backup   the current database alone, online (the first way back)
  target   PostgreSQL started (and a fresh database made in it), or a new SQLite file
  start    a backend container on the target, beside the serving one: its gunicorn
           master migrates the empty target (the same migrations, once)
  ready    that container healthy and ready
  pause    the serving backend stopped: from here to `switch`, writes are stopped
           (nginx answers "backend unavailable"); the time is measured and reported
  copy     every table, from the old database into the new, in one transaction
  verify   row counts and a checksum per table, equal on both sides
  switch   nginx to the new container (tested, graceful reload): the pause ends
  retire   the old container removed; .env names the new database
The old database is never written to: it stays as the way back. Any failure before
`switch` puts back .env, the compose file and nginx, removes the new container and
starts the old one again, which serves the old database as before.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tr4ctl.actions.backup.create import take_database_backup
from tr4ctl.actions.backup.location import backup_dir
from tr4ctl.actions.db.identity import require_database_as_recorded, require_password_unchanged
from tr4ctl.actions.db.postgres import fresh_database, set_password, start_postgres
from tr4ctl.actions.deploy.ship import (
    Progress,
    put_back,
    retire,
    step_recorder,
    steps_ended,
    the_new_container,
    wait_ready,
)
from tr4ctl.actions.nginx.apply import active_nginx_mode, apply_nginx_config
from tr4ctl.actions.preflight import require_running, require_stack
from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.actions.stack.private_files import ensure_database_password, write_private_files
from tr4ctl.config.store import save_env_values
from tr4ctl.docker import commands as cmd
from tr4ctl.docker.health import wait_healthy
from tr4ctl.errors import (
    BadInput,
    Interrupted,
    MissingPrerequisite,
    OperationFailed,
    Tr4ctlError,
)
from tr4ctl.facts import BACKEND_DATA_DIR, DB_PASSWORD_SECRET, POSTGRES, SQLITE
from tr4ctl.files import write_atomic, write_private
from tr4ctl.interrupts import deferred, signal_name
from tr4ctl.plan.backup import KIND_SAFETY
from tr4ctl.plan.database import DatabaseRecord, current_url, postgres_url
from tr4ctl.plan.environments import NginxMode
from tr4ctl.plan.services import ServiceState
from tr4ctl.plan.stack import render_compose, render_nginx
from tr4ctl.project.audit import record
from tr4ctl.project.state import last_environment, record_database
from tr4ctl.runtime import Runtime

BACKEND = "backend"
COMMAND = "db use"
MANAGE = ["python3", "-m", "app.manage"]
COPY_TIMEOUT = 1800.0


@dataclass
class MoveReport:
    source: str
    target: str
    source_url: str
    target_url: str
    moved: bool
    write_pause_seconds: float | None = None
    tables: dict[str, dict] = field(default_factory=dict)  # name -> {rows, sha256}
    backup: str | None = None
    steps: dict[str, float] = field(default_factory=dict)


def move_database(rt: Runtime, target: str, *, timeout: float) -> MoveReport:
    """The caller holds the stack's lock."""
    if target not in (SQLITE, POSTGRES):
        raise BadInput(f"unknown database {target!r}", "use `tr4ctl db use sqlite` or "
                       "`tr4ctl db use postgres`")
    config, engine, paths = rt.config, rt.engine, rt.paths
    # -- pre-flight: no impact yet ------------------------------------------------------
    # The source is where the data is: a .env that says otherwise is refused, as by `up`.
    require_database_as_recorded(rt)
    source, source_url = config.database, current_url(config)
    if target == source:
        return MoveReport(source, target, source_url, source_url, moved=False)
    hint = "start the stack with `tr4ctl up`: the data moves while it serves"
    require_stack(rt, hint=hint)
    require_password_unchanged(rt)
    require_running(rt, "nginx", message="nginx is {state}", hint=hint)
    old = [c for c in engine.service_containers(BACKEND) if c.state == "running"]
    if not old:
        raise MissingPrerequisite("the backend is not running", hint)
    if target == POSTGRES and not engine.image_exists(config.postgres_image):
        raise MissingPrerequisite(f"the PostgreSQL image {config.postgres_image} is not on "
                                  "this host", "`tr4ctl images build-local` builds one from "
                                  "Debian's packages")
    env = last_environment(paths)
    mode = NginxMode(active_nginx_mode(rt) or env.value)
    env_text = paths.env_file.read_text(encoding="utf-8")
    old_compose = paths.compose_file.read_text(encoding="utf-8")
    old_nginx = paths.nginx_conf.read_text(encoding="utf-8")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    report = MoveReport(source, target, source_url, target_url="", moved=True)
    progress = Progress(rt.out.info, step_recorder(rt, COMMAND))
    new: ServiceState | None = None
    paused_at: float | None = None
    started_postgres = False
    try:
        progress("backup", f"the {source} database, online")
        report.backup = str(take_database_backup(rt, backup_dir(rt, None), KIND_SAFETY).path)
        progress("target", f"a new {target} database")
        if target == POSTGRES:
            ensure_database_password(rt, InitReport())
            write_private_files(rt, InitReport())
            started_postgres = start_postgres(rt, timeout)
            # A cluster made earlier may have another password than .env's (the local
            # socket needs none): the new backend logs in with .env's.
            set_password(rt, rt.config.database_password or "")
            report.target_url = postgres_url(fresh_database(rt, stamp))
        else:
            report.target_url = f"sqlite:///{BACKEND_DATA_DIR}/tr4ction-{stamp}.db"
        save_env_values(paths.env_file, {"TR4CTL_DATABASE": target,
                                         "DATABASE_URL": report.target_url},
                        options=rt.config_options)
        rt.reload_config()
        write_private_files(rt, InitReport())
        progress("start", f"a backend container on the new {target} database")
        write_atomic(paths.compose_file, render_compose(rt.config, env, paths, rt.stack_inputs))
        engine.add_container(BACKEND, len(old) + 1)
        new = the_new_container(engine, {c.container_id for c in old})
        progress("ready", f"{new.name}: migrations on the new database, health, /ready")
        wait_ready(rt, new, timeout)
        progress("pause", "writes stop: the serving backend stops")
        paused_at = time.monotonic()
        for container in old:
            engine.stop_container(container.container_id, 30)
        progress("copy", f"every table, {source} -> {target}")
        _copy(rt, new, source_url)
        progress("verify", "row counts and checksums, table by table")
        report.tables = _verify(rt, new, source_url)
        progress("switch", f"nginx to {new.name}")
        apply_nginx_config(rt, render_nginx(rt.config, mode, rt.stack_inputs,
                                            upstream=new.name))
        report.write_pause_seconds = round(time.monotonic() - paused_at, 2)
    except BaseException as exc:  # noqa: BLE001 - Ctrl-C, SIGTERM too put the old database back
        with deferred("putting the old database back", raise_after=False):
            failure = _failure(rt, progress.step, exc, new, source)
            _put_back_everything(rt, new, old, env_text, old_compose, old_nginx,
                                 started_postgres, timeout)
            record(paths, COMMAND, datetime.now(UTC), source=source, target=target,
                         result="failed", step=progress.step,
                         reason=failure.message if isinstance(failure, Tr4ctlError) else None)
            steps_ended(paths, COMMAND, exc, _unchanged(source))
        raise failure from None
    # nginx serves the new database: retiring the old container is not cut short by a
    # signal (it would leave a stopped backend behind), it is raised after.
    try:
        with deferred("retiring the old backend"):
            # The data now lives in the target: the one place this record changes.
            record_database(paths, DatabaseRecord(target, report.target_url))
            try:
                retire(rt, old, mode, progress)
                report.moved = True
                report.steps = progress.done()
                record(paths, COMMAND, datetime.now(UTC), source=source, target=target,
                             result="succeeded", source_url=source_url,
                             target_url=report.target_url,
                             write_pause_seconds=report.write_pause_seconds,
                             backup=report.backup,
                             tables={name: t.get("rows") for name, t in report.tables.items()})
            finally:
                steps_ended(paths, COMMAND)
    except KeyboardInterrupt:
        raise Interrupted(f"`{COMMAND}` interrupted ({signal_name()}) after the switch: the "
                          f"{target} database serves, the old backend is retired",
                          "`tr4ctl status` shows it") from None
    return report


def _unchanged(source: str) -> str:
    return f"the {source} database is still the current one, unchanged"


SOURCE_KEYS = ["DATABASE_URL", "DATABASE_PASSWORD_FILE"]


def _source_env(source_url: str) -> dict[str, str]:
    # The new container reads the old database by its URL; a PostgreSQL password comes
    # from the mounted file (DATABASE_PASSWORD_FILE: the new container on SQLite is not
    # told of it otherwise), never from the URL or argv. Ignored for SQLite.
    return {"DATABASE_URL": source_url, "DATABASE_PASSWORD_FILE": DB_PASSWORD_SECRET}


def _copy(rt: Runtime, new: ServiceState, source_url: str) -> None:
    """The old database's tables, dumped by the new container's own code, loaded into
    its (empty, migrated) database in one transaction."""
    runner = rt.engine.runner
    with tempfile.NamedTemporaryFile(prefix="tr4ctl-db-", suffix=".jsonl") as dump:
        runner.run_to_file(_exec(new, ["dump-tables"], env_keys=SOURCE_KEYS),
                           Path(dump.name), env=_source_env(source_url),
                           what="reading the old database")
        dump.seek(0)
        runner.run_from_stream(_exec(new, ["load-tables"]), dump,
                               what="writing the new database")


def _verify(rt: Runtime, new: ServiceState, source_url: str) -> dict[str, dict]:
    runner = rt.engine.runner
    before = _checksums(runner.output(_exec(new, ["table-checksums"], env_keys=SOURCE_KEYS),
                                      env=_source_env(source_url), timeout=COPY_TIMEOUT))
    after = _checksums(runner.output(_exec(new, ["table-checksums"]), timeout=COPY_TIMEOUT))
    different = sorted(name for name in set(before) | set(after)
                       if before.get(name) != after.get(name))
    if different:
        raise OperationFailed(f"the copy differs from the original in {', '.join(different)}",
                              None, details="\n".join(
                                  f"{name}: {before.get(name)} -> {after.get(name)}"
                                  for name in different))
    return after


def _checksums(stdout: str) -> dict[str, dict]:
    document = json.loads(stdout.strip().splitlines()[-1])
    return document.get("tables", document) if isinstance(document, dict) else {}


def _exec(new: ServiceState, command: list[str], env_keys: list[str] = ()) -> list[str]:
    return cmd.exec_in_container(new.container_id, [*MANAGE, *command], env_keys)


def _put_back_everything(rt: Runtime, new: ServiceState | None, old: list[ServiceState],
                         env_text: str, old_compose: str, old_nginx: str,
                         started_postgres: bool, timeout: float) -> None:
    steps = [
        lambda: write_private(rt.paths.env_file, env_text),
        lambda: rt.reload_config(),
        lambda: write_private_files(rt, InitReport()),
        lambda: put_back(rt, new, old_compose, old_nginx, {c.container_id for c in old}),
        lambda: [rt.engine.start_container(c.container_id) for c in old],
        lambda: wait_healthy(rt.engine, (BACKEND,), timeout=timeout),
        lambda: rt.engine.compose_stop([POSTGRES]) if started_postgres else None,
    ]
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - the first failure is the one to report
            rt.out.warn(f"while putting the old database back: {exc}")


def _failure(rt: Runtime, step: str, exc: BaseException, new: ServiceState | None,
             source: str) -> BaseException:
    """The error once the old database is back, with its cause's own exit code."""
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(f"`{COMMAND}` interrupted ({signal_name()}) at {step}",
                           _unchanged(source))
    reason = exc.message if isinstance(exc, Tr4ctlError) else f"{type(exc).__name__}: {exc}"
    details = exc.details if isinstance(exc, Tr4ctlError) else None
    if new is not None and not details:
        details = rt.engine.container_logs(new.container_id, 20) or None
    kind = type(exc) if isinstance(exc, Tr4ctlError) else OperationFailed
    return kind(f"db use failed at {step}: {reason}", _unchanged(source), details=details)
