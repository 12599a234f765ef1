"""The backend's image, built by compose from the shipped code or the team's own
(TR4CTL_BACKEND_SOURCE) for `up --build`, `deploy`, a swarm's first `up` (a stack file
has nothing to build from)."""

from __future__ import annotations

from dataclasses import replace

from tr4ctl.assets import backend_context
from tr4ctl.facts import COMMIT_LABEL, COMPOSE
from tr4ctl.files import write_atomic
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.releases import History, commit_of_image
from tr4ctl.plan.stack import render_compose
from tr4ctl.runtime import Runtime


def build_backend_image(rt: Runtime, env: Environment, image: str) -> None:
    """From TR4CTL_BACKEND_SOURCE when set (a git source at the command's ref, checked
    out for the build's length), else from the shipped backend/."""
    from tr4ctl.actions.images.backend_source import build_context

    with build_context(rt.backend_source, backend_context()) as context:
        inputs = replace(rt.stack_inputs, backend_image=image, backend_context=str(context),
                         backend_commit=rt.backend_source.commit)
        compose_text = render_compose(replace(rt.config, target=COMPOSE), env, rt.paths,
                                      inputs)
        candidate = rt.paths.compose_file.with_name("docker-compose.build.yml")
        write_atomic(candidate, compose_text)
        try:
            rt.engine.compose_build([candidate], ["backend"])
        finally:
            candidate.unlink(missing_ok=True)


def built_commit(rt: Runtime, history: History, image: str) -> str | None:
    """The commit of TR4CTL_BACKEND_SOURCE `image` was built from, when known: this
    command's source, an earlier release's record, else the label the build put on it."""
    source = rt.backend_source
    built = rt.config.backend_image or source.image
    return commit_of_image(history, image, (built or "", source.commit)) \
        or rt.engine.image_label(image, COMMIT_LABEL)


def source_name(rt: Runtime) -> str:
    """What a build is from, for progress lines."""
    source = rt.backend_source
    if source.commit:
        return f"{source.location} at {source.commit[:12]}"
    return source.location or "the shipped backend code"
