"""`tr4ctl config validate`: docker compose's own check of the rendered file."""

from __future__ import annotations

from tr4ctl.files import write_atomic
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.stack import render_compose
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime


def validate_config(rt: Runtime, env: Environment | None) -> Environment:
    chosen = env or last_environment(rt.paths)
    text = render_compose(rt.config, chosen, rt.paths, rt.stack_inputs)
    rt.engine.require_engine()
    candidate = rt.paths.rendered_dir / "docker-compose.validate.yml"
    write_atomic(candidate, text)
    try:
        rt.engine.validate_compose([candidate])
    finally:
        candidate.unlink(missing_ok=True)
    return chosen
