"""What the stack should look like: the values the compose and nginx templates get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tr4ctl import __version__
from tr4ctl.assets import backend_context, backend_fingerprint
from tr4ctl.plan.environments import PROFILES, Environment, NginxMode
from tr4ctl.plan.layout import ProjectPaths, StackNames
from tr4ctl.plan.render import render_template
from tr4ctl.settings import Tr4ctlSettings


@dataclass(frozen=True)
class RenderedStack:
    compose_text: str
    nginx_text: str
    nginx_mode: NginxMode


def compose_values(settings: Tr4ctlSettings, env: Environment, paths: ProjectPaths) -> dict[str, Any]:
    names = StackNames(settings.project_name)
    profile = PROFILES[env]
    return {
        "version": __version__,
        "env": env.value,
        "project": names.project,
        "network": names.network,
        "volumes": names.volumes,
        "env_file": str(paths.env_file.resolve()),
        "nginx_conf_dir": str(paths.nginx_dir.resolve()),
        "backend_context": str(backend_context()),
        "backend_image": backend_image(settings),
        "backend_base_image": settings.backend_base_image,
        "backend_environment": profile.backend_environment,
        "debug_mode": "true" if profile.debug_mode else "false",
        "gunicorn_workers": settings.gunicorn_workers,
        "nginx_image": settings.nginx_image,
        "chroma_image": settings.chroma_image,
        "certbot_image": settings.certbot_image,
        "bind_address": settings.bind_address,
        "http_port": settings.http_port,
        "https_port": settings.https_port,
        "domain": settings.domain,
        "healthcheck_interval": settings.healthcheck_interval,
    }


def backend_image(settings: Tr4ctlSettings) -> str:
    if settings.backend_image:
        return settings.backend_image
    return f"tr4ction/backend:{backend_fingerprint(settings.backend_base_image)}"


def nginx_values(settings: Tr4ctlSettings, mode: NginxMode) -> dict[str, Any]:
    return {
        "version": __version__,
        "mode": mode.value,
        "tls": mode is NginxMode.PROD,
        "hardened": mode is not NginxMode.DEV,
        # Only the prod templates ask for the domain; StrictUndefined fails there if unset.
        "domain": settings.domain,
        "https_port": settings.https_port,
    }


def render_compose(settings: Tr4ctlSettings, env: Environment, paths: ProjectPaths) -> str:
    values = compose_values(settings, env, paths)
    return render_template("compose", "docker-compose.yml.j2", values, settings.templates_dir)


def render_nginx(settings: Tr4ctlSettings, mode: NginxMode) -> str:
    values = nginx_values(settings, mode)
    return render_template("nginx", "site.conf.j2", values, settings.templates_dir)


def render_stack(
    settings: Tr4ctlSettings, env: Environment, paths: ProjectPaths, nginx_mode: NginxMode
) -> RenderedStack:
    return RenderedStack(
        compose_text=render_compose(settings, env, paths),
        nginx_text=render_nginx(settings, nginx_mode),
        nginx_mode=nginx_mode,
    )


