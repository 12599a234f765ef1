"""All runtime configuration, read from the environment (pydantic-settings).

Every path the service touches is derived from these settings; nothing else in the
code base may hard-code one (the old `/frontend` path crashed start-up as non-root).
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy import URL, make_url

from app import rules

# backend/ in a checkout, /app in the image: relative paths are resolved against it so
# they do not depend on the process's working directory.
APP_ROOT = Path(__file__).resolve().parents[2]


def _low(name: str) -> int:
    return rules.INTEGER_LIMITS[name][0]


def _high(name: str) -> int | None:
    return rules.INTEGER_LIMITS[name][1]


class ConfigError(Exception):
    """Invalid configuration, with a one-line, secret-free reason."""


class Settings(BaseSettings):
    # The .env file is shared with the CLI (TR4CTL_* keys): unknown names are ignored.
    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    # Literal[("a", "b")] is Literal["a", "b"]: the values come from the shared rules.
    ENVIRONMENT: Literal[rules.ENVIRONMENTS] = "production"
    DEBUG_MODE: bool = False

    DATA_DIR: Path = Path("/app/data")
    TEMPLATES_IMAGES_DIR: Path | None = None
    KNOWLEDGE_DIR: Path | None = None
    UPLOADS_DIR: Path | None = None
    LOG_DIR: Path = Path("/app/logs")
    # Out of repr(): an operator may still write a password into the URL.
    DATABASE_URL: str | None = Field(None, repr=False)
    # PostgreSQL's password, read from this file (a Docker secret) at start: the URL
    # carries none, so no environment variable, argv or `docker inspect` shows it.
    DATABASE_PASSWORD_FILE: Path | None = None

    JWT_SECRET_KEY: SecretStr | None = None
    # The JWT key read from this file instead; it wins over JWT_SECRET_KEY.
    JWT_SECRET_KEY_FILE: Path | None = None
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(60, ge=1, le=_high("ACCESS_TOKEN_EXPIRE_MINUTES"))
    BCRYPT_ROUNDS: int = Field(12, ge=_low("BCRYPT_ROUNDS"), le=_high("BCRYPT_ROUNDS"))

    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(default_factory=list)

    CHROMA_HOST: str = "chroma"
    CHROMA_PORT: int = Field(8000, ge=_low("CHROMA_PORT"), le=_high("CHROMA_PORT"))
    CHROMA_TIMEOUT_SECONDS: float = Field(1.0, gt=0, le=rules.CHROMA_TIMEOUT_MAX_SECONDS)

    LOGIN_RATE_LIMIT_ATTEMPTS: int = Field(
        rules.LOGIN_RATE_LIMIT_ATTEMPTS, ge=_low("LOGIN_RATE_LIMIT_ATTEMPTS"))
    LOGIN_RATE_LIMIT_WINDOW_SECONDS: int = Field(
        rules.LOGIN_RATE_LIMIT_WINDOW_SECONDS, ge=_low("LOGIN_RATE_LIMIT_WINDOW_SECONDS"))

    WEB_CONCURRENCY: int = Field(1, ge=_low("WEB_CONCURRENCY"), le=_high("WEB_CONCURRENCY"))

    _database_password: SecretStr | None = PrivateAttr(None)

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if isinstance(value, str):
            origins = rules.cors_origins(value)
            for origin in origins:
                if problem := rules.cors_origin_problem(origin):
                    raise ValueError(problem)
            return origins
        return value

    @field_validator("DATABASE_PASSWORD_FILE", "JWT_SECRET_KEY_FILE", mode="before")
    @classmethod
    def _blank_file_is_unset(cls, value: object) -> object:
        # `KEY=` in a .env means "not set", not the current directory.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value and (problem := rules.database_url_problem(value)):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _derive_and_check(self) -> Settings:
        self.DATA_DIR = _absolute(self.DATA_DIR)
        self.TEMPLATES_IMAGES_DIR = _absolute(
            self.TEMPLATES_IMAGES_DIR or self.DATA_DIR / "templates_images"
        )
        self.KNOWLEDGE_DIR = _absolute(self.KNOWLEDGE_DIR or self.DATA_DIR / "knowledge")
        self.UPLOADS_DIR = _absolute(self.UPLOADS_DIR or self.DATA_DIR / "uploads")
        self.LOG_DIR = _absolute(self.LOG_DIR)
        self.DATABASE_URL = _normalise_database_url(self.DATABASE_URL, self.DATA_DIR)
        if self.JWT_SECRET_KEY_FILE is not None:
            self.JWT_SECRET_KEY_FILE = _absolute(self.JWT_SECRET_KEY_FILE)
            self.JWT_SECRET_KEY = SecretStr(
                _read_secret_file(rules.JWT_SECRET_FILE_KEY, self.JWT_SECRET_KEY_FILE)
            )
        if self.ENVIRONMENT == "production":
            source = rules.JWT_SECRET_FILE_KEY + "'s content" if self.JWT_SECRET_KEY_FILE else None
            _check_production_secret(self.JWT_SECRET_KEY, source)
        # SQLite has no password: a file left configured after switching back to SQLite
        # is not read, so it cannot stop the service.
        if self.DATABASE_PASSWORD_FILE is not None and self.database_engine == "postgresql":
            self.DATABASE_PASSWORD_FILE = _absolute(self.DATABASE_PASSWORD_FILE)
            self._database_password = SecretStr(
                _read_secret_file(rules.DATABASE_PASSWORD_FILE_KEY, self.DATABASE_PASSWORD_FILE)
            )
        return self

    @property
    def database_engine(self) -> str:
        """"sqlite" or "postgresql"."""
        return rules.database_engine(self.DATABASE_URL)

    @property
    def database_url(self) -> URL:
        """What to connect with: DATABASE_URL plus the password from DATABASE_PASSWORD_FILE
        (which wins over one written in the URL). str() and repr() of a URL hide it."""
        url = make_url(self.DATABASE_URL)
        if self._database_password is not None:
            url = url.set(password=self._database_password.get_secret_value())
        return url

    @property
    def database_url_shown(self) -> str:
        """For output: the URL with any password masked."""
        return make_url(self.DATABASE_URL).render_as_string(hide_password=True)

    @property
    def is_development(self) -> bool:
        return self.ENVIRONMENT == "development"

    @property
    def data_dirs(self) -> list[Path]:
        return [self.DATA_DIR, self.TEMPLATES_IMAGES_DIR, self.KNOWLEDGE_DIR, self.UPLOADS_DIR]

    @property
    def chroma_heartbeat_url(self) -> str:
        return f"http://{self.CHROMA_HOST}:{self.CHROMA_PORT}/api/v2/heartbeat"

    @property
    def jwt_secret_is_ephemeral(self) -> bool:
        return self.JWT_SECRET_KEY is None or not self.JWT_SECRET_KEY.get_secret_value()

    @cached_property
    def jwt_secret(self) -> str:
        if self.jwt_secret_is_ephemeral:
            # Development only (production refuses above); per process, so tokens die
            # with a restart and are not shared between several workers.
            return secrets.token_hex(32)
        return self.JWT_SECRET_KEY.get_secret_value()


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else (APP_ROOT / path).resolve()


def _normalise_database_url(url: str | None, data_dir: Path) -> str:
    if not url:
        return f"sqlite:///{data_dir / 'tr4ction.db'}"
    url = rules.with_database_driver(url)
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        # The operators' old form `sqlite:///./data/tr4ction.db` meant "relative to the
        # app directory" (cwd /app in the container); pin that down explicitly.
        relative = url[len(prefix) :]
        if relative and relative != ":memory:":
            return prefix + str((APP_ROOT / relative).resolve())
    return url


def _check_production_secret(secret: SecretStr | None, source: str | None) -> None:
    value = secret.get_secret_value() if secret is not None else None
    problem = rules.secret_problem(value, source) if source else rules.secret_problem(value)
    if problem:
        raise ValueError(f"{problem} (generate one with: openssl rand -hex 32)")


def _read_secret_file(setting: str, path: Path) -> str:
    """The secret in the file a *_FILE setting names; errors name the file, never its
    content."""
    try:
        secret = rules.secret_from_file_text(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{setting}: cannot read {path} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{setting}: {path} is not UTF-8 text") from None
    if not secret.strip():
        raise ValueError(f"{setting}: {path} is empty")
    return secret


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        location = ".".join(str(p) for p in error["loc"])
        parts.append(f"{location}: {message}" if location else message)
    return "invalid configuration: " + "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (overrides win); ConfigError on anything invalid."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
