"""<project-dir>/.tr4ctl/state.json: what tr4ctl remembers between commands (the last
environment brought up, the digest of the last compose file docker validated, and an
`up` that has not finished).

Every key is optional: a state file written by an earlier version (only "env" and
"validated_compose_sha256") reads the same, with no `up` under way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tr4ctl.files import read_json, write_json
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.layout import ProjectPaths

UP_KEY = "up_in_progress"


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
