"""The files that carry secrets to the stack, never readable by another user of the
host: the backend's env file (.env's backend keys only), the database password and, on
a swarm, the JWT signing key (both mounted as secrets, not environment variables)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from tr4ctl.actions.stack.init_report import InitReport
from tr4ctl.config.envfile import SECRET_KEY, quoted
from tr4ctl.config.keys import PREFIX
from tr4ctl.config.load import read_env_file
from tr4ctl.config.store import save_env_values
from tr4ctl.facts import BACKEND_UID, SWARM
from tr4ctl.files import PRIVATE, write_atomic
from tr4ctl.runtime import Runtime

PASSWORD_KEY = "TR4CTL_DATABASE_PASSWORD"


def ensure_database_password(rt: Runtime, report: InitReport) -> None:
    """Generated once, kept in .env (0600): PostgreSQL's role is created with it."""
    if rt.config.database_password:
        return
    save_env_values(rt.paths.env_file, {PASSWORD_KEY: secrets.token_urlsafe(24)},
                    options=rt.config_options)
    rt.reload_config()
    report.add("secret", PASSWORD_KEY, f"generated into {rt.paths.env_file}")


def ensure_jwt_secret(rt: Runtime, report: InitReport) -> None:
    """On a swarm every replica must sign and check tokens with the same key: without
    one in .env (development allows that: a random key per process), one is generated."""
    if rt.config.target != SWARM or rt.config.backend_values.get(SECRET_KEY):
        return
    save_env_values(rt.paths.env_file, {SECRET_KEY: secrets.token_hex(32)},
                    options=rt.config_options)
    rt.reload_config()
    report.add("secret", SECRET_KEY, f"generated into {rt.paths.env_file} (replicas share it)")


def write_private_files(rt: Runtime, report: InitReport) -> None:
    ensure_jwt_secret(rt, report)
    paths, config = rt.paths, rt.config
    on_swarm = config.target == SWARM
    backend_keys = {key: value for key, value in read_env_file(paths.env_file).values.items()
                    if not key.startswith(PREFIX) and value is not None
                    # On a swarm the key reaches the backend as a secret file only.
                    and not (on_swarm and key == SECRET_KEY)}
    text = "".join(f"{key}={quoted(value)}\n" for key, value in backend_keys.items())
    _write_if_changed(paths.backend_env_file, text, report)
    paths.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(paths.secrets_dir, 0o700)
    if _write_if_changed(paths.db_password_file, config.database_password or "", report):
        _readable_by_the_backend(paths.db_password_file)
    ensure_restic_password(rt, report)
    if config.alert_webhook and _write_if_changed(paths.alert_webhook_file, config.alert_webhook,
                                                  report):
        _readable_by_the_backend(paths.alert_webhook_file)  # alert-watch runs as its user
    if on_swarm:
        jwt_secret = config.backend_values.get(SECRET_KEY) or ""
        if _write_if_changed(paths.jwt_secret_file, jwt_secret, report):
            _readable_by_the_backend(paths.jwt_secret_file)


def ensure_restic_password(rt: Runtime, report: InitReport) -> None:
    """The off-host copies' key: made once, when a schedule first needs it, and never
    replaced (a new key could not read the copies already made)."""
    path = rt.paths.restic_password_file
    if not rt.config.backup_schedule or path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, secrets.token_urlsafe(32), PRIVATE)
    report.add("secret", str(path), "generated (0600): `tr4ctl backup key export` prints it; "
                                    "keep a copy away from this host")


def _write_if_changed(path: Path, text: str, report: InitReport) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_atomic(path, text, PRIVATE)
    report.add("file", str(path), "rendered (0600)")
    return True


def _readable_by_the_backend(path: Path) -> None:
    """The backend runs as its own uid and reads the mounted file; the database's
    entrypoint reads it as root. Owned by the backend's uid when tr4ctl runs as root;
    otherwise world-readable, behind the secrets folder only its owner can enter."""
    try:
        os.chown(path, BACKEND_UID, BACKEND_UID)
        os.chmod(path, 0o400)
    except PermissionError:
        os.chmod(path, 0o644)
