"""What the settings must hold for `up` to go ahead, as one rule: `up` refuses with it,
`config validate` answers with it, `config set` refuses a value that breaks it (pure)."""

from __future__ import annotations

from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput
from tr4ctl.facts import SQLITE
from tr4ctl.plan.environments import Environment

REPLICAS_KEY = "TR4CTL_BACKEND_REPLICAS"


def replicas_refusal(config: Config) -> BadInput | None:
    """More than one backend on SQLite can never run: a swarm would place replicas away
    from the one file, and on compose the backend is one container anyway."""
    if config.database == SQLITE and config.backend_replicas > 1:
        return BadInput(f"{REPLICAS_KEY}={config.backend_replicas} needs a database every "
                        "replica reaches; SQLite is a file in one volume",
                        "run `tr4ctl db use postgres` (or set TR4CTL_DATABASE=postgres), or "
                        f"set {REPLICAS_KEY}=1")
    return None


def settings_refusal(config: Config, env: Environment, *,
                     secret_problem: str | None) -> BadInput | None:
    """Why `up --env <env>` would refuse these settings, or None. `secret_problem` is the
    backend's verdict on .env's JWT secret (None when there is no .env yet: `up` makes
    one with a fresh secret)."""
    if env is Environment.PROD and not config.domain:
        return BadInput("--env prod needs the site's domain (TR4CTL_DOMAIN is not set)",
                        "`tr4ctl config set TR4CTL_DOMAIN=example.org` with the site's name")
    if env is Environment.PROD and secret_problem:
        return BadInput(f"--env prod needs a real secret: {secret_problem}",
                        "set JWT_SECRET_KEY in .env to the output of `openssl rand -hex 32`")
    return replicas_refusal(config) or backup_refusal(config)


def backup_refusal(config: Config) -> BadInput | None:
    from tr4ctl.plan.offsite import settings_problem

    problem = settings_problem(config.backup_schedule, config.backup_target,
                               config.backup_ssh_key, config.backup_ssh_known_hosts,
                               config.backup_s3_credentials)
    return BadInput(problem[0], f"`{problem[1]}`") if problem else None
