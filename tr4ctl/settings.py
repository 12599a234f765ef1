"""tr4ctl's own settings: TR4CTL_* keys from the environment and the project's .env.

The .env file is shared with the backend, so keys tr4ctl does not know are ignored.
Loading is strict about what it does read: a line that does not parse, or a value of
the wrong type, is bad input naming the key, never a traceback.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tr4ctl.errors import BadInput

ENV_PREFIX = "TR4CTL_"
PROJECT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


class Tr4ctlSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    project_name: str = "tr4ction"
    http_port: int = Field(80, ge=1, le=65535)
    https_port: int = Field(443, ge=1, le=65535)
    # 0.0.0.0 serves the world on a server; tests and laptops set 127.0.0.1.
    bind_address: str = "0.0.0.0"

    domain: str | None = None
    email: str | None = None
    acme_server: str | None = None
    acme_ca_bundle: Path | None = None

    # Official images at pinned versions; `tr4ctl images build-local` repoints these.
    # Unset: tr4ction/backend:<fingerprint of the build context>, built when missing.
    backend_image: str | None = None
    backend_base_image: str = "python:3.11-slim"
    nginx_image: str = "nginx:1.27-alpine"
    chroma_image: str = "chromadb/chroma:1.5.9"
    certbot_image: str = "certbot/certbot:v5.1.0"

    gunicorn_workers: int = Field(1, ge=1, le=64)
    # How long a changing command waits for another one on the same stack.
    lock_timeout: float = Field(120.0, ge=0)
    healthcheck_interval: str = "1s"
    # Operators' own template overrides, searched before the shipped templates.
    templates_dir: Path | None = None
    # CA bundle that health, verify and bench trust for the stack's HTTPS (a private or
    # test CA); unset, the system's trust store is used.
    ca_bundle: Path | None = None
    # Default accounts of `tr4ctl users seed` (flags --admin-email/--founder-email win).
    admin_email: str | None = None
    founder_email: str | None = None
    # Where `tr4ctl backup` writes and lists archives (relative: to the project dir);
    # unset, <project-dir>/backups.
    backup_dir: Path | None = None

    @field_validator("project_name")
    @classmethod
    def _compose_project_name(cls, value: str) -> str:
        if not PROJECT_NAME_PATTERN.match(value):
            raise ValueError("use lowercase letters, digits, '-' or '_' (compose project name)")
        return value

    @field_validator("healthcheck_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(ms|s|m)", value):
            raise ValueError("use a duration such as 1s or 500ms")
        return value


def check_env_file_syntax(env_file: Path) -> None:
    """Reject a .env that python-dotenv would silently half-read."""
    if not env_file.exists():
        return
    try:
        text = env_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {env_file}: {exc}", "fix or remove the file") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.line
            raise BadInput(
                f"{env_file} line {line} is not KEY=VALUE: {binding.original.string.strip()[:60]!r}",
                "fix that line (quote values with spaces) or remove it",
            )


def load_settings(env_file: Path, **overrides: object) -> Tr4ctlSettings:
    check_env_file_syntax(env_file)
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Tr4ctlSettings(_env_file=env_file if env_file.exists() else None, **given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise BadInput(
            f"setting {ENV_PREFIX}{field.upper()} is invalid: {first['msg']}",
            f"fix it in {env_file} or the environment",
        ) from None


def read_env_values(env_file: Path) -> dict[str, str | None]:
    """The raw key/values of the .env (backend's keys included)."""
    if not env_file.exists():
        return {}
    return dict(dotenv_values(env_file))

