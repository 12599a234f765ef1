"""Every key tr4ctl or the backend reads from the environment or the project's .env:
its rule, its default, what it is for, whether it is secret, and which services a
change reaches. The Config object, `config show`, `config set` and every validation
come from this one table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tr4ctl.config import values as v

PREFIX = "TR4CTL_"
TR4CTL = "tr4ctl"
BACKEND = "backend"


@dataclass(frozen=True)
class Key:
    name: str
    parse: v.Parser
    default: Any = None
    help: str = ""
    reader: str = TR4CTL
    secret: bool = False
    # Services whose containers a change reaches (recreated by the next `tr4ctl up`).
    applies_to: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        """The Config attribute: TR4CTL_HTTP_PORT -> http_port."""
        return self.name.removeprefix(PREFIX).lower()


NGINX = ("nginx",)
CERTBOT = ("certbot-renew",)
ALL = ("chroma", "backend", "nginx", "certbot-renew")

TR4CTL_KEYS = (
    Key("TR4CTL_PROJECT_NAME", v.project_name, "tr4ction",
        "compose project; volumes are <name>_chroma_data, ..., network <name>_network"),
    Key("TR4CTL_HTTP_PORT", v.port, 80, "port nginx publishes for HTTP", applies_to=NGINX),
    Key("TR4CTL_HTTPS_PORT", v.port, 443, "port nginx publishes for HTTPS", applies_to=NGINX),
    # 0.0.0.0 serves the world on a server; tests and laptops set 127.0.0.1.
    Key("TR4CTL_BIND_ADDRESS", v.bind_address, "0.0.0.0", "address the ports are published on",
        applies_to=NGINX),
    Key("TR4CTL_DOMAIN", v.domain, None, "the site's DNS name (prod)", applies_to=NGINX),
    Key("TR4CTL_EMAIL", v.email, None, "ACME account email for expiry notices"),
    Key("TR4CTL_ACME_SERVER", v.acme_url, None, "ACME directory URL of another CA"),
    Key("TR4CTL_ACME_CA_BUNDLE", v.path, None, "CA bundle trusted for the ACME server's TLS",
        applies_to=CERTBOT),
    # Unset: tr4ction/backend:<fingerprint of the build context>, built when missing.
    Key("TR4CTL_BACKEND_IMAGE", v.image, None, "backend image (default: built from backend/)",
        applies_to=("backend",)),
    Key("TR4CTL_BACKEND_BASE_IMAGE", v.image, "python:3.11-slim", "base of the backend image",
        applies_to=("backend",)),
    Key("TR4CTL_NGINX_IMAGE", v.image, "nginx:1.27-alpine", "nginx image", applies_to=NGINX),
    Key("TR4CTL_CHROMA_IMAGE", v.image, "chromadb/chroma:1.5.9", "Chroma image",
        applies_to=("chroma",)),
    Key("TR4CTL_CERTBOT_IMAGE", v.image, "certbot/certbot:v5.1.0", "certbot image",
        applies_to=CERTBOT),
    Key("TR4CTL_POSTGRES_IMAGE", v.image, "postgres:17-alpine", "PostgreSQL image",
        applies_to=("postgres",)),
    Key("TR4CTL_GUNICORN_WORKERS", v.integer(1, 64), 1, "backend worker processes",
        applies_to=("backend",)),
    Key("TR4CTL_LOCK_TIMEOUT", v.seconds(0), 120.0,
        "seconds a changing command waits for another one on the same stack"),
    Key("TR4CTL_HEALTHCHECK_INTERVAL", v.duration, "1s",
        "healthcheck interval of the long-running services", applies_to=ALL),
    Key("TR4CTL_TEMPLATES_DIR", v.path, None,
        "folder with compose/ and nginx/ templates overriding the shipped ones", applies_to=ALL),
    Key("TR4CTL_CA_BUNDLE", v.path, None,
        "CA bundle health, verify and bench trust for the stack's HTTPS"),
    Key("TR4CTL_ADMIN_EMAIL", v.account_email, None, "admin account of `users seed`"),
    Key("TR4CTL_FOUNDER_EMAIL", v.account_email, None, "founder account of `users seed`"),
    Key("TR4CTL_BACKUP_DIR", v.path, None,
        "where `backup create` writes (default: <project-dir>/backups)"),
)


def _backend(name: str, parse: v.Parser, help: str, *, secret: bool = False) -> Key:
    return Key(name, parse, None, help, reader=BACKEND, secret=secret, applies_to=("backend",))


# The backend's own settings (backend/.env.example documents them; backend/app/rules.py
# holds their rules, shared with the backend). tr4ctl validates them and shows them.
BACKEND_KEYS = (
    _backend("ENVIRONMENT", v.environment,
             "development or production (`up --env` sets it for the container)"),
    _backend("DEBUG_MODE", v.boolean, "true or false: DEBUG log level (`up --env` sets it)"),
    _backend("JWT_SECRET_KEY", v.text, "signs access tokens; 32+ random bytes", secret=True),
    _backend("ACCESS_TOKEN_EXPIRE_MINUTES", v.backend_integer("ACCESS_TOKEN_EXPIRE_MINUTES"),
             "access token lifetime"),
    _backend("BCRYPT_ROUNDS", v.backend_integer("BCRYPT_ROUNDS"), "bcrypt cost of new hashes"),
    _backend("CORS_ORIGINS", v.cors_origins, "browser origins allowed, comma-separated"),
    _backend("DATA_DIR", v.container_path, "data folder in the container"),
    _backend("TEMPLATES_IMAGES_DIR", v.container_path, "templates' images folder"),
    _backend("KNOWLEDGE_DIR", v.container_path, "knowledge folder"),
    _backend("UPLOADS_DIR", v.container_path, "uploads folder"),
    _backend("LOG_DIR", v.container_path, "log folder in the container"),
    # May carry a password (postgresql://user:password@host/db): the password is masked
    # wherever shown, and refused on a command line.
    _backend("DATABASE_URL", v.database_url, "the database (default: SQLite under DATA_DIR)"),
    _backend("CHROMA_HOST", v.host, "Chroma's host on the stack's network"),
    _backend("CHROMA_PORT", v.backend_integer("CHROMA_PORT"), "Chroma's port"),
    _backend("CHROMA_TIMEOUT_SECONDS", v.positive_seconds(10.0), "readiness probe timeout"),
    _backend("LOGIN_RATE_LIMIT_ATTEMPTS", v.backend_integer("LOGIN_RATE_LIMIT_ATTEMPTS"),
             "failed logins allowed per window"),
    _backend("LOGIN_RATE_LIMIT_WINDOW_SECONDS",
             v.backend_integer("LOGIN_RATE_LIMIT_WINDOW_SECONDS"), "the rate-limit window"),
    _backend("WEB_CONCURRENCY", v.backend_integer("WEB_CONCURRENCY"),
             "gunicorn workers (TR4CTL_GUNICORN_WORKERS sets it for the container)"),
)
# Read by the CLI's option parsing or the set-up scripts, not part of the configuration.
CLI_KEYS = ("TR4CTL_PROJECT_DIR", "TR4CTL_CACHE_DIR")

KEYS = {key.name: key for key in (*TR4CTL_KEYS, *BACKEND_KEYS)}


def closest_key(name: str) -> str | None:
    """The known key an unknown one was probably meant to be (case and typos)."""
    import difflib

    upper = name.upper()
    if upper in KEYS:
        return upper
    matches = difflib.get_close_matches(upper, list(KEYS), n=1, cutoff=0.75)
    return matches[0] if matches else None
