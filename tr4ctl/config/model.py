"""The configuration of one command: every value typed, and where each came from."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tr4ctl.config.keys import TR4CTL_KEYS
from tr4ctl.config.sources import DEFAULT, ENV_FILE, ENVIRONMENT  # noqa: F401


@dataclass(frozen=True)
class Config:
    project_name: str
    http_port: int
    https_port: int
    bind_address: str
    domain: str | None
    email: str | None
    acme_server: str | None
    acme_ca_bundle: Path | None
    backend_image: str | None
    backend_base_image: str
    backend_source: str | None
    nginx_image: str
    chroma_image: str
    certbot_image: str
    postgres_image: str
    registry: str | None
    registry_auth_file: Path | None
    gunicorn_workers: int
    target: str
    backend_replicas: int
    database: str
    database_password: str | None
    lock_timeout: float
    hook_timeout: float
    alert_webhook: str | None
    alert_after: float
    healthcheck_interval: str
    log_max_size: str
    log_max_files: int
    templates_dir: Path | None
    ca_bundle: Path | None
    admin_email: str | None
    founder_email: str | None
    backup_dir: Path | None
    backup_schedule: str | None
    backup_keep: str
    backup_target: str | None
    backup_ssh_key: Path | None
    backup_ssh_known_hosts: Path | None
    backup_s3_credentials: Path | None
    backup_image: str
    host: str | None
    host_dir: str
    ssh_key: str | None
    ssh_known_hosts: str | None
    # Key name -> where its value came from: an option, the environment, .env, default.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # The backend's keys as written in .env (it reads them itself; tr4ctl shows them).
    backend_values: Mapping[str, str | None] = field(default_factory=dict, compare=False)

    @classmethod
    def defaults(cls, **overrides: Any) -> Config:
        """Defaults and typed overrides, without any file or environment (tests, tools)."""
        values = {key.field: key.default for key in TR4CTL_KEYS}
        return cls(**(values | overrides))

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def source(self, key: str) -> str:
        return self.sources.get(key, DEFAULT)

    def as_settings(self) -> dict[str, Any]:
        """Every tr4ctl key by its name, typed (what `config show` and templates get)."""
        return {key.name: getattr(self, key.field) for key in TR4CTL_KEYS}

    def template_values(self) -> dict[str, Any]:
        """The whole configuration for the templates, by field name (Tutor's way: a new
        key is available to every template without a code change), secrets left out:
        a rendered file is never where a secret goes."""
        return {key.field: getattr(self, key.field) for key in TR4CTL_KEYS if not key.secret}
