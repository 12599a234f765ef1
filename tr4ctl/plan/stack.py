"""What the stack should look like: the values the compose and nginx templates get."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tr4ctl import __version__
from tr4ctl.config.model import Config
from tr4ctl.facts import (
    BACKEND_DATA_DIR,
    BACKEND_LOG_DIR,
    CHROMA_PORT,
    DB_PASSWORD_SECRET,
    JWT_SECRET_FILE,
    JWT_SECRET_KEY,
    POSTGRES,
    POSTGRES_DB,
    SWARM,
    template_facts,
)
from tr4ctl.plan.database import postgres_url
from tr4ctl.plan.environments import PROFILES, Environment, NginxMode, https_pending_body
from tr4ctl.plan.healthchecks import healthcheck_timing
from tr4ctl.plan.layout import ProjectPaths, StackNames
from tr4ctl.plan.maintenance import Maintenance
from tr4ctl.plan.maintenance import template_value as maintenance_value
from tr4ctl.plan.render import render_template

COMPOSE_TEMPLATE = "compose/docker-compose.yml.j2"
NGINX_TEMPLATE = "nginx/site.conf.j2"


@dataclass(frozen=True)
class StackInputs:
    """What rendering needs besides the configuration, read by the caller."""

    templates: Mapping[str, str]  # "compose/docker-compose.yml.j2" -> source
    backend_image: str  # the current release's, else the one built from the shipped code
    backend_context: str
    backend_version: str = "unknown"  # the shipped code's fingerprint (a build's identity)
    backend_commit: str | None = None  # TR4CTL_BACKEND_SOURCE's commit, labelled on builds
    # What the healthchecks may use (start_interval: Engine 25+, compose 2.20.2+); None
    # when no engine answered (rendered for the older engines then).
    engine_version: str | None = None
    compose_version: str | None = None
    # Maintenance mode (plan/maintenance.py) as recorded: every render of nginx keeps it.
    maintenance: Maintenance | None = None
    # The sha256 of each file that becomes a swarm secret (swarm_secret_files), by key.
    file_digests: Mapping[str, str] = field(default_factory=dict)


def backend_settings(config: Config, env: Environment) -> dict[str, tuple[str, str]]:
    """The backend's settings the stack sets itself, over .env: key -> (value, by what)."""
    profile = PROFILES[env]
    by_env = f"`tr4ctl up --env {env.value}`"
    return {
        "ENVIRONMENT": (profile.backend_environment, by_env),
        "DEBUG_MODE": ("true" if profile.debug_mode else "false", by_env),
        "DATA_DIR": (BACKEND_DATA_DIR, "the stack (its data volume's mount)"),
        "LOG_DIR": (BACKEND_LOG_DIR, "the stack (its log volume's mount)"),
        "CHROMA_HOST": ("chroma", "the stack (Chroma's service name)"),
        "CHROMA_PORT": (str(CHROMA_PORT), "the stack (Chroma's port)"),
        "WEB_CONCURRENCY": (str(config.gunicorn_workers), "TR4CTL_GUNICORN_WORKERS"),
        **database_settings(config),
        # On a swarm the signing key is a secret mounted as a file, like the password.
        **({"JWT_SECRET_KEY_FILE": (JWT_SECRET_FILE, "TR4CTL_TARGET=swarm")}
           if config.target == SWARM else {}),
    }


def secret_names(config: Config, file_digests: Mapping[str, str] | None = None
                 ) -> dict[str, str]:
    """A swarm secret cannot be changed, only replaced: each is named after its content
    (a hash, never the content), so a new password is deployed as a new secret.
    `file_digests`: the sha256 of each file swarm_secret_files names, by its key."""
    contents = {"db_password": config.database_password or "",
                "jwt_secret": config.backend_values.get(JWT_SECRET_KEY) or "",
                "alert_webhook": config.alert_webhook or ""}
    digests = {name: hashlib.sha256(text.encode()).hexdigest()
               for name, text in contents.items()} | dict(file_digests or {})
    return {name: f"{config.project_name}_{name}_{digest[:12]}"
            for name, digest in digests.items()}


def database_settings(config: Config) -> dict[str, tuple[str, str]]:
    """On PostgreSQL the backend gets the password as a file, and the stack's database
    unless `tr4ctl db use` wrote another one into DATABASE_URL."""
    if config.database != POSTGRES:
        return {}
    by = "TR4CTL_DATABASE=postgres"
    settings = {"DATABASE_PASSWORD_FILE": (DB_PASSWORD_SECRET, by)}
    if not (config.backend_values.get("DATABASE_URL") or "").startswith("postgresql"):
        settings["DATABASE_URL"] = (postgres_url(POSTGRES_DB), by)
    return settings



def compose_values(config: Config, env: Environment, paths: ProjectPaths,
                   inputs: StackInputs) -> dict[str, Any]:
    names = StackNames(config.project_name)
    profile = PROFILES[env]
    return {
        **config.template_values(),
        "facts": template_facts(),
        "version": __version__,
        "env": env.value,
        "project": names.project,
        "network": names.network,
        "volumes": names.volumes,
        # The project dir is absolute (the CLI resolves it): compose needs absolute paths.
        "env_file": str(paths.backend_env_file),
        "db_password_file": str(paths.db_password_file),
        "nginx_conf_dir": str(paths.nginx_dir),
        "backend_context": inputs.backend_context,
        "backend_commit": inputs.backend_commit,
        "backend_image": inputs.backend_image,
        "backend_version": inputs.backend_version,
        "backend_environment": profile.backend_environment,
        "debug_mode": "true" if profile.debug_mode else "false",
        "backend_settings": {key: value for key, (value, _) in
                             backend_settings(config, env).items()},
        "swarm": config.target == SWARM,
        "healthcheck": healthcheck_timing(config.healthcheck_interval,
                                          swarm=config.target == SWARM,
                                          engine_version=inputs.engine_version,
                                          compose_version=inputs.compose_version),
        "jwt_secret_file": str(paths.jwt_secret_file),
        "secret_names": secret_names(config, inputs.file_digests),
        "backup": backup_service_values(config, paths),
        "alert_watch": alert_watch_values(config, paths),
    }


def alert_watch_values(config: Config, paths: ProjectPaths) -> dict[str, Any] | None:
    """The alert-watch service's values, None without TR4CTL_ALERT_WEBHOOK."""
    if not config.alert_webhook:
        return None
    from tr4ctl.assets import alert_watch_program
    from tr4ctl.plan.disk_space import MIN_FREE_BYTES

    return {"program": alert_watch_program(), "after_seconds": int(config.alert_after),
            "min_free_bytes": MIN_FREE_BYTES, "webhook_file": str(paths.alert_webhook_file)}


def backup_files(config: Config, paths: ProjectPaths) -> dict[str, str] | None:
    """The files the backup-schedule service reads (offsite.service_files), None without
    a schedule (or with settings that do not fit: `up`'s pre-flight refuses those first)."""
    from tr4ctl.plan import offsite

    if not config.backup_schedule or not config.backup_target or offsite.settings_problem(
            config.backup_schedule, config.backup_target, config.backup_ssh_key,
            config.backup_ssh_known_hosts, config.backup_s3_credentials):
        return None

    def named(path: Any) -> str | None:
        return str(path) if path is not None else None

    return offsite.service_files(config.backup_target, str(paths.restic_password_file),
                                 named(config.backup_ssh_key),
                                 named(config.backup_ssh_known_hosts),
                                 named(config.backup_s3_credentials))


def swarm_secret_files(config: Config, paths: ProjectPaths) -> dict[str, str]:
    """The files that become swarm secrets named after their content (the caller reads
    them for secret_names): the backup service's, on a swarm."""
    if config.target != SWARM:
        return {}
    return backup_files(config, paths) or {}


def backup_service_values(config: Config, paths: ProjectPaths) -> dict[str, Any] | None:
    """The backup-schedule service's values, None without a schedule."""
    from tr4ctl.facts import BACKEND_UID, POSTGRES
    from tr4ctl.plan import offsite
    from tr4ctl.plan.database import current_url, postgres_database

    files = backup_files(config, paths)
    if files is None:
        return None
    return offsite.service_values(
        config.backup_schedule, config.backup_keep, config.backup_target, files, BACKEND_UID,
        postgres_database(current_url(config)) if config.database == POSTGRES else None,
        project=StackNames(config.project_name).project, swarm=config.target == SWARM)


BACKEND_SERVICE = "backend"


def nginx_values(config: Config, mode: NginxMode, upstream: str = BACKEND_SERVICE,
                 maintenance: Maintenance | None = None) -> dict[str, Any]:
    return {
        "maintenance": maintenance_value(maintenance),
        **config.template_values(),
        "facts": template_facts(),
        "version": __version__,
        "mode": mode.value,
        "backend_upstream": upstream,
        "swarm": config.target == SWARM,
        "tls": mode is NginxMode.PROD,
        "hardened": mode is not NginxMode.DEV,
        "https_pending_body": https_pending_body(),
    }


def render_compose(config: Config, env: Environment, paths: ProjectPaths,
                   inputs: StackInputs) -> str:
    return render_template(inputs.templates, COMPOSE_TEMPLATE,
                           compose_values(config, env, paths, inputs))


def render_nginx(config: Config, mode: NginxMode, inputs: StackInputs,
                 upstream: str = BACKEND_SERVICE) -> str:
    """`upstream`: where nginx sends requests; a deploy names one backend container."""
    return render_template(inputs.templates, NGINX_TEMPLATE, nginx_values(config, mode, upstream,
                                                                        inputs.maintenance))
