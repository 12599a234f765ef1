"""<project-dir>/.tr4ctl/state.json: what tr4ctl remembers between commands (the last
environment brought up, the digest of the last compose file docker validated)."""

from __future__ import annotations

from tr4ctl.files import read_json, write_json
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.layout import ProjectPaths


def read_state(paths: ProjectPaths) -> dict:
    return read_json(paths.state_file)


def update_state(paths: ProjectPaths, **values: str) -> None:
    state = read_state(paths)
    if any(state.get(key) != value for key, value in values.items()):
        write_json(paths.state_file, {**state, **values})


def last_environment(paths: ProjectPaths) -> Environment:
    recorded = read_state(paths).get("env")
    return Environment(recorded) if recorded in {e.value for e in Environment} else Environment.DEV


def remember_environment(paths: ProjectPaths, env: Environment) -> None:
    update_state(paths, env=env.value)
