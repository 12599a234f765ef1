"""Read the configuration once per command: options, then the environment, then the
project's .env, then defaults. Every value from every source is checked against its
rule (config/keys.py), even one another source overrides; unknown keys are refused."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tr4ctl.config.keys import BACKEND_KEYS, CLI_KEYS, KEYS, PREFIX, TR4CTL_KEYS, closest_key
from tr4ctl.config.model import DEFAULT, ENV_FILE, ENVIRONMENT, Config
from tr4ctl.config.values import control_character
from tr4ctl.errors import BadInput

# A .env is a few KiB; a megabyte is already far more than any real one.
ENV_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class EnvFile:
    """What .env says: its values, and the line each key is on (for messages)."""

    path: Path
    values: dict[str, str | None]
    lines: dict[str, int]


def read_env_file(env_file: Path) -> EnvFile:
    """BadInput for a file that cannot be read, or a line python-dotenv would silently
    half-read."""
    try:
        text = read_env_text(env_file)
    except FileNotFoundError:
        return EnvFile(env_file, {}, {})
    return parse_env_text(text, env_file)


def read_env_text(env_file: Path) -> str:
    """.env's text: a regular file of a bounded size (a FIFO or a directory there is
    refused, never waited on or read without end). FileNotFoundError when missing."""
    from tr4ctl.files import read_regular_text

    return read_regular_text(env_file, "the settings file", limit=ENV_LIMIT,
                             hint=f"make {env_file} a regular file (`tr4ctl init` writes one "
                                  "when none is there)")


def parse_env_text(text: str, env_file: Path) -> EnvFile:
    from dotenv.parser import parse_stream

    values: dict[str, str | None] = {}
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise BadInput(
                f"{env_file} line {binding.original.line} is not KEY=VALUE: "
                f"{binding.original.string.strip()[:60]!r}",
                "fix that line (quote values with spaces) or remove it",
            )
        if binding.key is not None:
            values[binding.key] = binding.value
            lines[binding.key] = binding.original.line
    return EnvFile(env_file, values, lines)


def load_config(env_file: Path, *, options: Mapping[str, str | None] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    return resolve(read_env_file(env_file), os.environ if environ is None else environ,
                   options or {})


def resolve(file: EnvFile, environ: Mapping[str, str],
            options: Mapping[str, str | None]) -> Config:
    """Pure: which value wins for each key, every given value checked."""
    _refuse_unknown(file, environ)
    sources: dict[str, str] = {}
    typed: dict[str, object] = {}
    for key in TR4CTL_KEYS:
        given = _given(key.name, file, environ, options)
        for raw, source in given:
            _check(key.name, raw, source, file)
        raw, source = given[0] if given else (None, DEFAULT)
        sources[key.name] = source
        typed[key.field] = key.default if raw is None else key.parse(raw)
    for key in BACKEND_KEYS:
        raw = file.values.get(key.name)
        if raw:
            _check(key.name, raw, ENV_FILE, file)
        sources[key.name] = ENV_FILE if raw is not None else DEFAULT
    config = Config(**typed, sources=sources,
                    backend_values={k: v for k, v in file.values.items()
                                    if not k.startswith(PREFIX)})
    _check_together(config, file)
    return config


def _given(name: str, file: EnvFile, environ: Mapping[str, str],
           options: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """Every value given for a key, the winning one first: an option even when empty
    (`--target ''` is a mistake to name, not a default to fall back to)."""
    given = []
    if options.get(name) is not None:
        given.append((options[name], option_name(name)))
    if environ.get(name):
        given.append((environ[name], ENVIRONMENT))
    if file.values.get(name):
        given.append((file.values[name], ENV_FILE))
    return given


def _check(name: str, raw: str, source: str, file: EnvFile) -> None:
    problem = control_character(raw)
    if problem:
        problem = f"contains {problem}"
    else:
        try:
            KEYS[name].parse(raw)
        except ValueError as exc:
            problem = str(exc)
    if problem:
        raise BadInput(f"setting {name} is invalid{_where(name, source, file)}: {problem}",
                       where_to_fix(name, source, file.path))


def _check_together(config: Config, file: EnvFile) -> None:
    url = config.backend_values.get("DATABASE_URL") or ""
    engine = "postgres" if url.startswith("postgresql") else "sqlite" if url else None
    if engine is not None and engine != config.database:
        raise BadInput(f"DATABASE_URL is a {engine} database but TR4CTL_DATABASE is "
                       f"{config.database}", f"`tr4ctl db use {engine}` or `tr4ctl db use "
                       f"{config.database}` moves the data and sets both; or fix {file.path}")
    if config.http_port == config.https_port:
        raise BadInput(f"TR4CTL_HTTP_PORT and TR4CTL_HTTPS_PORT are both {config.http_port}",
                       "nginx needs two ports: set one of them to another free port "
                       f"({where_to_fix('TR4CTL_HTTPS_PORT', config.source('TR4CTL_HTTPS_PORT'), file.path)})")


def _refuse_unknown(file: EnvFile, environ: Mapping[str, str]) -> None:
    for name, line in file.lines.items():
        if name not in KEYS and name not in CLI_KEYS:
            raise BadInput(f"{file.path} line {line}: unknown setting {name}",
                           _suggest(name, f"rename or remove it in {file.path}"))
    for name in environ:
        if name.startswith(PREFIX) and name not in KEYS and name not in CLI_KEYS:
            raise BadInput(f"unknown setting {name} in the environment",
                           _suggest(name, f"unset it (`unset {name}`)"))


def _suggest(name: str, otherwise: str) -> str:
    meant = closest_key(name)
    return f"did you mean {meant}? ({otherwise})" if meant else \
        f"{otherwise}; `tr4ctl config show` lists the known settings"


def _where(name: str, source: str, file: EnvFile) -> str:
    if source == ENV_FILE and name in file.lines:
        return f" ({file.path} line {file.lines[name]})"
    if source == ENVIRONMENT:
        return " (in the environment)"
    if source.startswith("--"):
        return f" ({source})"
    return ""


def option_name(key: str) -> str:
    return "--" + key.removeprefix(PREFIX).lower().replace("_", "-")


def where_to_fix(name: str, source: str, env_file: Path) -> str:
    if source == ENVIRONMENT:
        return f"fix or unset {name} in the environment"
    if source.startswith("--"):
        return f"fix the {source} option"
    from tr4ctl.plan.masking import is_secret_key

    if is_secret_key(name):  # `config set` refuses secrets: argv is visible to all
        return f"fix it in {env_file} (kept 0600)"
    return f"fix it in {env_file} (or `tr4ctl config set {name}=...`)"
