"""`tr4ctl nginx use dev|prod|prod-http`: render the mode's config and put it in place
safely (see apply.py)."""

from __future__ import annotations

from dataclasses import dataclass

from tr4ctl.actions.cert.lineages import certificate_present
from tr4ctl.actions.nginx.apply import active_nginx_mode, apply_nginx_config
from tr4ctl.actions.preflight import require_running, require_stack
from tr4ctl.errors import BadInput
from tr4ctl.plan.environments import NginxMode
from tr4ctl.plan.stack import render_nginx
from tr4ctl.runtime import Runtime


@dataclass(frozen=True)
class NginxUse:
    mode: str
    result: str  # unchanged, written, reloaded
    previous: str | None


def use_nginx_mode(rt: Runtime, mode: NginxMode, *,
                   domain_override: str | None = None) -> NginxUse:
    """prod needs the domain's certificate: nginx would refuse to load the config without
    it, so that is refused up front with the command that gets one."""
    config = rt.config
    if domain_override is not None:
        config = config.replace(domain=domain_override)
    # Rendering first: a broken template or a missing value changes nothing.
    text = render_nginx(config, mode, rt.stack_inputs)
    require_stack(rt)
    require_running(rt, "nginx", message="nginx is not running: there is nothing to switch",
                    hint="run `tr4ctl up --env dev` or `tr4ctl up --env prod` first")
    if mode is NginxMode.PROD and not certificate_present(rt, config.domain):
        email = config.email or "you@example.com"
        raise BadInput(f"no certificate for {config.domain} yet: nginx prod cannot serve HTTPS",
                       f"run `tr4ctl cert issue --domain {config.domain} --email {email}`")
    previous = active_nginx_mode(rt)
    result = apply_nginx_config(rt, text)
    return NginxUse(mode.value, result, previous)
