"""Every key tr4ctl reads from the environment or the project's .env: its rule, its
default and what it is for. The Config object, `config show` and validation all
come from this one table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tr4ctl.config import values as v

PREFIX = "TR4CTL_"


@dataclass(frozen=True)
class Key:
    name: str
    parse: v.Parser
    default: Any = None
    help: str = ""
    secret: bool = False

    @property
    def field(self) -> str:
        """The Config attribute: TR4CTL_HTTP_PORT -> http_port."""
        return self.name.removeprefix(PREFIX).lower()


TR4CTL_KEYS = (
    Key("TR4CTL_PROJECT_NAME", v.project_name, "tr4ction",
        "compose project; volumes are <name>_chroma_data, ..., network <name>_network"),
    Key("TR4CTL_HTTP_PORT", v.port, 80, "port nginx publishes for HTTP"),
    Key("TR4CTL_HTTPS_PORT", v.port, 443, "port nginx publishes for HTTPS"),
    # 0.0.0.0 serves the world on a server; tests and laptops set 127.0.0.1.
    Key("TR4CTL_BIND_ADDRESS", v.bind_address, "0.0.0.0", "address the ports are published on"),
    Key("TR4CTL_DOMAIN", v.text, None, "the site's DNS name (prod)"),
    Key("TR4CTL_EMAIL", v.text, None, "ACME account email for expiry notices"),
    Key("TR4CTL_ACME_SERVER", v.text, None, "ACME directory URL of another CA"),
    Key("TR4CTL_ACME_CA_BUNDLE", v.path, None, "CA bundle trusted for the ACME server's TLS"),
    # Unset: tr4ction/backend:<fingerprint of the build context>, built when missing.
    Key("TR4CTL_BACKEND_IMAGE", v.image, None, "backend image (default: built from backend/)"),
    Key("TR4CTL_BACKEND_BASE_IMAGE", v.image, "python:3.11-slim", "base of the backend image"),
    Key("TR4CTL_NGINX_IMAGE", v.image, "nginx:1.27-alpine", "nginx image"),
    Key("TR4CTL_CHROMA_IMAGE", v.image, "chromadb/chroma:1.5.9", "Chroma image"),
    Key("TR4CTL_CERTBOT_IMAGE", v.image, "certbot/certbot:v5.1.0", "certbot image"),
    Key("TR4CTL_GUNICORN_WORKERS", v.integer(1, 64), 1, "backend worker processes"),
    Key("TR4CTL_LOCK_TIMEOUT", v.seconds(0), 120.0,
        "seconds a changing command waits for another one on the same stack"),
    Key("TR4CTL_HEALTHCHECK_INTERVAL", v.duration, "1s",
        "healthcheck interval of the long-running services"),
    Key("TR4CTL_TEMPLATES_DIR", v.path, None,
        "folder with compose/ and nginx/ templates overriding the shipped ones"),
    Key("TR4CTL_CA_BUNDLE", v.path, None,
        "CA bundle health, verify and bench trust for the stack's HTTPS"),
    Key("TR4CTL_ADMIN_EMAIL", v.text, None, "admin account of `users seed`"),
    Key("TR4CTL_FOUNDER_EMAIL", v.text, None, "founder account of `users seed`"),
    Key("TR4CTL_BACKUP_DIR", v.path, None,
        "where `backup create` writes (default: <project-dir>/backups)"),
)
# Read by the CLI's own option parsing, not part of the stack's configuration.
CLI_KEYS = ("TR4CTL_PROJECT_DIR",)

KEYS = {key.name: key for key in TR4CTL_KEYS}
