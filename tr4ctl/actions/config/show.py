"""`tr4ctl config show`: the settings (secrets masked) and the rendered files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tr4ctl.plan.environments import Environment, nginx_mode_for
from tr4ctl.plan.masking import masked_settings
from tr4ctl.plan.stack import render_compose, render_nginx
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime


@dataclass
class ShownConfig:
    env: str
    settings: dict[str, Any]
    compose: str
    nginx: str


def show_config(rt: Runtime, env: Environment | None) -> ShownConfig:
    chosen = env or last_environment(rt.paths)
    config = rt.config
    compose_text = render_compose(config, chosen, rt.paths, rt.stack_inputs)
    nginx_text = render_nginx(config, nginx_mode_for(chosen, certificate_present=True),
                              rt.stack_inputs) \
        if config.domain or chosen is Environment.DEV else "(prod needs TR4CTL_DOMAIN)"
    settings = masked_settings(config.template_values(), dict(config.backend_values))
    return ShownConfig(chosen.value, settings, compose_text, nginx_text)
