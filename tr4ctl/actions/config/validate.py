"""`tr4ctl config validate`: what `up` would refuse in the settings (the same rule), the
path settings against this host, then docker compose's own check of the rendered file."""

from __future__ import annotations

from tr4ctl.actions.config.paths import check_path_settings
from tr4ctl.actions.stack.up import require_settings, validate_compose_text
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.stack import render_compose
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime


def validate_config(rt: Runtime, env: Environment | None) -> Environment:
    chosen = env or last_environment(rt.paths)
    require_settings(rt, chosen)
    check_path_settings(rt.config, rt.project_dir)
    text = render_compose(rt.config, chosen, rt.paths, rt.stack_inputs)
    rt.engine.require_engine()
    validate_compose_text(rt, text)
    return chosen
