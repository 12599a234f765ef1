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
