"""`tr4ctl nginx status`: the config on disk and the one nginx's workers answer with."""

from __future__ import annotations

from dataclasses import dataclass

from tr4ctl.actions.nginx.apply import health_answer, served_label
from tr4ctl.plan.certificates import tls_domains_in_config
from tr4ctl.runtime import Runtime


@dataclass(frozen=True)
class NginxStatus:
    # The mode written in the config file and the one nginx's health listener answers
    # with, each followed by " maintenance" while maintenance mode is on.
    config: str | None
    serving: str | None
    nginx_state: str
    config_file: str
    tls_domains: list[str]

    @property
    def in_sync(self) -> bool:
        return self.config is not None and self.config == self.serving


def nginx_status(rt: Runtime) -> NginxStatus:
    if not rt.has_project:  # a mistyped --project-dir is not an nginx "absent"
        raise rt.no_project()
    conf = rt.paths.nginx_conf
    text = conf.read_text(encoding="utf-8") if conf.exists() else ""
    state = "absent"
    serving = None
    if rt.paths.compose_file.exists():
        rt.engine.require_engine()
        state = rt.engine.service_states(("nginx",))["nginx"].state
        if state == "running":
            serving = health_answer(rt).removeprefix("ok ").strip() or None
    return NginxStatus(served_label(text) if text else None, serving, state, str(conf),
                       tls_domains_in_config(text))
