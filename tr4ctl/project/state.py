"""<project-dir>/.tr4ctl/state.json: what tr4ctl remembers between commands (the last
environment brought up, the digest of the last compose file docker validated, an `up`
that has not finished, and the database the stack's data lives in).

Every key is optional: a state file written by an earlier version (only "env" and
"validated_compose_sha256") reads the same, with no `up` under way. "format" says which
version wrote it: from format 2 on it records the stack's database ("database": its
engine and URL, or null while the stack has no data); a file without it (format 1, the
previous release) records none, and the database is inferred from what exists
(actions/db/identity.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tr4ctl.errors import BadInput
from tr4ctl.facts import DATABASES
from tr4ctl.files import read_json, write_json
from tr4ctl.plan.database import DatabaseRecord
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.maintenance import STATE_KEY as MAINTENANCE_KEY
from tr4ctl.plan.maintenance import Maintenance
from tr4ctl.plan.maintenance import from_state as maintenance_from_state

UP_KEY = "up_in_progress"
FORMAT_KEY = "format"
STATE_FORMAT = 2
DATABASE_KEY = "database"
# A PostgreSQL cluster was made in the postgres_data volume (with the password of the
# secret file): from then on the password changes only on the server first.
POSTGRES_CLUSTER_KEY = "postgres_cluster"


def read_state(paths: ProjectPaths) -> dict:
    return read_json(paths.state_file)


def update_state(paths: ProjectPaths, **values: object) -> None:
    state = read_state(paths)
    if any(state.get(key) != value for key, value in values.items()):
        write_json(paths.state_file, {**state, **values})


def forget_state(paths: ProjectPaths, key: str) -> None:
    state = read_state(paths)
    if key in state:
        write_json(paths.state_file, {k: v for k, v in state.items() if k != key})


def maintenance_record(paths: ProjectPaths) -> Maintenance | None:
    """Maintenance mode as recorded (`tr4ctl maintenance on`), or None: off."""
    return maintenance_from_state(read_state(paths).get(MAINTENANCE_KEY))


def last_environment(paths: ProjectPaths) -> Environment:
    recorded = read_state(paths).get("env")
    return Environment(recorded) if recorded in {e.value for e in Environment} else Environment.DEV


def remember_environment(paths: ProjectPaths, env: Environment) -> None:
    update_state(paths, env=env.value)


@dataclass(frozen=True)
class UnfinishedUp:
    """An `up` that changed things and has not (yet) ended healthy: killed, interrupted,
    failed, or still running (the stack's lock tells which)."""

    env: str
    step: str
    started: str

    def describe(self) -> str:
        return f"`tr4ctl up --env {self.env}` (started {self.started}) stopped while {self.step}"


def record_up_step(paths: ProjectPaths, env: Environment, step: str, started: str) -> None:
    """Written before each step of `up` that changes something: the process may die
    anywhere (Ctrl-C, kill -9, a reboot) and the next `status` or `up` must still know
    what was left half done."""
    update_state(paths, **{UP_KEY: {"env": env.value, "step": step, "started": started}})


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def up_finished(paths: ProjectPaths) -> None:
    forget_state(paths, UP_KEY)


def unfinished_up(paths: ProjectPaths) -> UnfinishedUp | None:
    recorded = read_state(paths).get(UP_KEY)
    if not isinstance(recorded, dict):
        return None
    return UnfinishedUp(str(recorded.get("env", "dev")), str(recorded.get("step", "?")),
                        str(recorded.get("started", "?")))


# deploy, rollback, db use and backup restore: the step under way (written before each
# step, so a kill -9 leaves it), and the last one a signal interrupted (after the flow
# put the old state back), both named by `status`.
STEP_KEY = "step_in_progress"
INTERRUPTED_KEY = "last_interrupted"


@dataclass(frozen=True)
class CommandStep:
    command: str
    step: str
    started: str
    signal: str | None = None  # for an interrupted one: Ctrl-C or SIGTERM
    outcome: str | None = None  # what serves after the put-back

    def describe(self) -> str:
        if self.signal:
            return (f"the last `tr4ctl {self.command}` (started {self.started}) was "
                    f"interrupted ({self.signal}) at {self.step}: {self.outcome}")
        return f"`tr4ctl {self.command}` (started {self.started}) stopped while {self.step}"


def record_step(paths: ProjectPaths, command: str, step: str, started: str) -> None:
    state = read_state(paths)
    values = {k: v for k, v in state.items()
              if not (k == INTERRUPTED_KEY and isinstance(v, dict)
                      and v.get("command") == command)}
    values[STEP_KEY] = {"command": command, "step": step, "started": started}
    if values != state:
        write_json(paths.state_file, values)


def steps_ended(paths: ProjectPaths, command: str, *, interrupted_by: str | None = None,
                outcome: str | None = None) -> None:
    """The command ended (put back, failed or done); when a signal ended it, that is
    kept for `status` until the command runs again."""
    state = read_state(paths)
    current = state.get(STEP_KEY) if isinstance(state.get(STEP_KEY), dict) else {}
    values = {k: v for k, v in state.items() if k != STEP_KEY}
    if interrupted_by and current.get("command") == command:
        values[INTERRUPTED_KEY] = {**current, "signal": interrupted_by, "outcome": outcome}
    if values != state:
        write_json(paths.state_file, values)


def _command_step(recorded: object) -> CommandStep | None:
    if not isinstance(recorded, dict) or not recorded.get("command"):
        return None
    return CommandStep(str(recorded["command"]), str(recorded.get("step", "?")),
                       str(recorded.get("started", "?")), recorded.get("signal"),
                       recorded.get("outcome"))


def unfinished_step(paths: ProjectPaths) -> CommandStep | None:
    return _command_step(read_state(paths).get(STEP_KEY))


def last_interrupted(paths: ProjectPaths) -> CommandStep | None:
    return _command_step(read_state(paths).get(INTERRUPTED_KEY))


def recorded_database(paths: ProjectPaths) -> tuple[bool, DatabaseRecord | None]:
    """(recorded, the database): (False, None) for a state.json of the previous release
    or none at all (the caller infers it); (True, None) for a stack with no data yet."""
    state = read_state(paths)
    version = state.get(FORMAT_KEY, 1)
    if not isinstance(version, int) or version > STATE_FORMAT:
        raise BadInput(f"{paths.state_file} has format {version!r}, newer than this tr4ctl "
                       f"reads ({STATE_FORMAT})", "upgrade tr4ctl")
    if version < 2 or DATABASE_KEY not in state:
        return False, None
    value = state[DATABASE_KEY]
    if value is None:
        return True, None
    if not (isinstance(value, dict) and value.get("engine") in DATABASES
            and isinstance(value.get("url"), str) and value["url"]):
        raise BadInput(f"{paths.state_file}: the stack's database record is damaged",
                       "put back the file from a backup, or remove its \"database\" entry "
                       "(tr4ctl then infers it from the running backend)")
    return True, DatabaseRecord(value["engine"], value["url"])


def record_database(paths: ProjectPaths, record: DatabaseRecord | None) -> None:
    """The database the stack's data lives in (None: no data). Written by `db use` when
    it moves the data, by the first `up` of a stack (its data starts there), by a
    restore (the archive's data and .env come together) and by `down --volumes`."""
    values: dict[str, object] = {FORMAT_KEY: STATE_FORMAT,
                                 DATABASE_KEY: record.as_dict() if record else None}
    if record is not None and record.engine == "postgres":
        values[POSTGRES_CLUSTER_KEY] = True
    if record is None:
        values[POSTGRES_CLUSTER_KEY] = False
    update_state(paths, **values)


def postgres_cluster_made(paths: ProjectPaths) -> bool:
    return read_state(paths).get(POSTGRES_CLUSTER_KEY) is True


def remember_postgres_cluster(paths: ProjectPaths) -> None:
    update_state(paths, **{POSTGRES_CLUSTER_KEY: True})


SEEN_READY_KEY = "seen_ready"
SEEN_READY_KEPT = 32


def seen_ready(paths: ProjectPaths) -> dict[str, str]:
    """Containers a wait of tr4ctl saw pass their own healthcheck: id -> when (UTC)."""
    recorded = read_state(paths).get(SEEN_READY_KEY)
    return {str(k): str(v) for k, v in recorded.items()} if isinstance(recorded, dict) else {}


def remember_seen_ready(paths: ProjectPaths, seen: dict[str, str]) -> None:
    """Kept for `status`: on an engine without start_interval its own first check of a new
    container comes an interval after the start. Only the latest few are kept."""
    merged = {**seen_ready(paths), **seen}
    newest = sorted(merged.items(), key=lambda item: item[1])[-SEEN_READY_KEPT:]
    update_state(paths, **{SEEN_READY_KEY: dict(newest)})
