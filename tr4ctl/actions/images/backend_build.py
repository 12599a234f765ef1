"""The backend's image, built by compose from the shipped code (`up --build`, `deploy`,
a swarm's first `up`: a stack file has nothing to build from)."""

from __future__ import annotations

from dataclasses import replace

from tr4ctl.facts import COMPOSE
from tr4ctl.files import write_atomic
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.stack import render_compose
from tr4ctl.runtime import Runtime


def build_backend_image(rt: Runtime, env: Environment, image: str) -> None:
    inputs = replace(rt.stack_inputs, backend_image=image)
    compose_text = render_compose(replace(rt.config, target=COMPOSE), env, rt.paths, inputs)
    candidate = rt.paths.compose_file.with_name("docker-compose.build.yml")
    write_atomic(candidate, compose_text)
    try:
        rt.engine.compose_build([candidate], ["backend"])
    finally:
        candidate.unlink(missing_ok=True)
