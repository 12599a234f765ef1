"""`tr4ctl config set KEY=VALUE...`: settings into the project's .env, validated first.
Not for secrets: argv is visible to every process."""

from __future__ import annotations

from tr4ctl.actions.stack.init import InitReport, ensure_env_file
from tr4ctl.config.load import read_env_file
from tr4ctl.config.store import save_env_values
from tr4ctl.errors import BadInput
from tr4ctl.plan.masking import is_secret_key
from tr4ctl.runtime import Runtime


def parse_assignments(assignments: list[str], env_file: str) -> dict[str, str]:
    updates: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput(f"{item!r} is not KEY=VALUE",
                           "e.g. tr4ctl config set TR4CTL_HTTP_PORT=8080")
        if is_secret_key(key):
            raise BadInput(f"{key} looks like a secret and argv is visible to every process",
                           f"edit {env_file} instead")
        updates[key] = value
    return updates


def set_values(rt: Runtime, assignments: list[str], *, if_unset: bool) -> list[str]:
    """The keys written (with --if-unset, those that had no value)."""
    env_file = rt.paths.env_file
    updates = parse_assignments(assignments, str(env_file))
    ensure_env_file(rt, InitReport())
    if if_unset:
        current = read_env_file(env_file)
        updates = {k: v for k, v in updates.items() if not current.get(k)}
    if save_env_values(env_file, updates, options=rt.config_options):
        rt.reload_config()
    return sorted(updates)
