"""Names and paths of one stack: derived from the project name and the project dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tr4ctl.facts import VOLUME_KEYS


@dataclass(frozen=True)
class StackNames:
    project: str

    @property
    def network(self) -> str:
        return f"{self.project}_network"

    def volume(self, key: str) -> str:
        return f"{self.project}_{key}"

    @property
    def volumes(self) -> dict[str, str]:
        return {key: self.volume(key) for key in VOLUME_KEYS}


@dataclass(frozen=True)
class ProjectPaths:
    project_dir: Path

    @property
    def env_file(self) -> Path:
        return self.project_dir / ".env"

    @property
    def rendered_dir(self) -> Path:
        return self.project_dir / ".tr4ctl"

    @property
    def compose_file(self) -> Path:
        return self.rendered_dir / "docker-compose.yml"

    @property
    def nginx_dir(self) -> Path:
        """Mounted as nginx's conf.d: a directory, so an atomic rename is seen inside."""
        return self.rendered_dir / "nginx"

    @property
    def nginx_conf(self) -> Path:
        return self.nginx_dir / "tr4ctl.conf"

    @property
    def backend_env_file(self) -> Path:
        """The backend's env_file: .env's backend keys only (no tr4ctl key, no secret
        that reaches the stack as a file), 0600."""
        return self.rendered_dir / "backend.env"

    @property
    def secrets_dir(self) -> Path:
        """0700: the files mounted as secrets (what docker inspect must not show)."""
        return self.rendered_dir / "secrets"

    @property
    def db_password_file(self) -> Path:
        return self.secrets_dir / "db_password"

    @property
    def restic_password_file(self) -> Path:
        """The off-host copies' encryption key (0600): generated once, never at the
        target; `backup key export` prints it."""
        return self.secrets_dir / "restic_password"

    @property
    def alert_webhook_file(self) -> Path:
        """TR4CTL_ALERT_WEBHOOK for the alert-watch service (the URL is a secret)."""
        return self.secrets_dir / "alert_webhook"

    @property
    def jwt_secret_file(self) -> Path:
        return self.secrets_dir / "jwt_secret"

    @property
    def state_file(self) -> Path:
        return self.rendered_dir / "state.json"
