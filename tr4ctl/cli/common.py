"""What every command module shares: the Runtime the global options built, the options
several commands take (one name, one metavar, one completion each), and examples."""

from __future__ import annotations

import typer

from tr4ctl.facts import ALL_SERVICES
from tr4ctl.runtime import Runtime

ENVIRONMENTS = ("dev", "prod")
NGINX_MODES = ("dev", "prod", "prod-http")


def runtime(ctx: typer.Context) -> Runtime:
    return ctx.find_root().obj


def examples(*lines: str) -> str:
    """The epilog of a command's --help: commands to copy, one a line."""
    return "Examples:\n" + "\n".join(f"$ {line}" for line in lines)


# -- value completion (`tr4ctl --install-completion`) ------------------------------------
def complete_env(incomplete: str) -> list[str]:
    return [env for env in ENVIRONMENTS if env.startswith(incomplete)]


def complete_service(incomplete: str) -> list[str]:
    return [service for service in ALL_SERVICES if service.startswith(incomplete)]


def complete_nginx_mode(incomplete: str) -> list[str]:
    return [mode for mode in NGINX_MODES if mode.startswith(incomplete)]


def complete_setting(incomplete: str) -> list[tuple[str, str]]:
    """KEY= for `config set`, with each key's help."""
    from tr4ctl.config.keys import KEYS

    return [(f"{name}=", key.help) for name, key in KEYS.items()
            if f"{name}=".startswith(incomplete.upper())]


# -- options with the same meaning everywhere ----------------------------------------------
def env_option(default: str | None, help_text: str):
    return typer.Option(default, "--env", "-e", metavar="dev|prod", help=help_text,
                        autocompletion=complete_env, show_default=default is not None)


def backup_dir_option(help_text: str):
    """The backup directory: where archives are written, listed, and safety backups go."""
    return typer.Option(None, "--dir", file_okay=False, metavar="DIR", help=help_text)


def maintenance_option(what: str):
    """`deploy --maintenance`, `backup restore --maintenance`: the same flag."""
    return typer.Option(False, "--maintenance",
                        help=f"Maintenance mode on for the {what}'s duration (off after it, "
                        "on failure too; left on when it was on before).")
