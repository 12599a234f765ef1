"""`tr4ctl config show`: every setting's effective value for the environment the stack
runs in, where it came from, secrets masked; and the rendered files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tr4ctl.config.keys import BACKEND_KEYS, TR4CTL_KEYS
from tr4ctl.plan.environments import Environment, nginx_mode_for
from tr4ctl.plan.masking import shown
from tr4ctl.plan.stack import backend_settings, render_compose, render_nginx
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime


@dataclass
class ShownConfig:
    env: str
    settings: dict[str, Any]
    sources: dict[str, str]
    compose: str
    nginx: str


def show_config(rt: Runtime, env: Environment | None) -> ShownConfig:
    chosen = env or last_environment(rt.paths)
    config = rt.config
    settings: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in TR4CTL_KEYS:
        value = getattr(config, key.field)
        settings[key.name] = str(value) if value is not None and not isinstance(
            value, int | float | bool) else value
        sources[key.name] = config.source(key.name)
    set_by_stack = backend_settings(config, chosen)
    for key in BACKEND_KEYS:
        if key.name in set_by_stack:
            settings[key.name], by = set_by_stack[key.name]
            sources[key.name] = f"set by {by}"
        else:
            settings[key.name] = config.backend_values.get(key.name)
            sources[key.name] = config.source(key.name)
    settings = {name: shown(name, value) for name, value in settings.items()}
    compose_text = render_compose(config, chosen, rt.paths, rt.stack_inputs)
    nginx_text = render_nginx(config, nginx_mode_for(chosen, certificate_present=True),
                              rt.stack_inputs) \
        if config.domain or chosen is Environment.DEV else "(prod needs TR4CTL_DOMAIN)"
    return ShownConfig(chosen.value, settings, sources, compose_text, nginx_text)
