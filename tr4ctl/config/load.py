"""Read the configuration once per command: options, then the environment, then the
project's .env, then defaults; every value checked against its rule (config/keys.py)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

from tr4ctl.config.keys import PREFIX, TR4CTL_KEYS
from tr4ctl.config.model import DEFAULT, ENV_FILE, ENVIRONMENT, Config
from tr4ctl.errors import BadInput


def read_env_file(env_file: Path) -> dict[str, str | None]:
    """The .env's key/values (the backend's included); BadInput for a line that
    python-dotenv would silently half-read."""
    if not env_file.exists():
        return {}
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

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
    return dict(dotenv_values(stream=io.StringIO(text)))


def load_config(env_file: Path, *, options: Mapping[str, str | None] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    return resolve(read_env_file(env_file), os.environ if environ is None else environ,
                   options or {}, env_file)


def resolve(file_values: Mapping[str, str | None], environ: Mapping[str, str],
            options: Mapping[str, str | None], env_file: Path) -> Config:
    """Pure: which value wins for each key, typed and checked."""
    typed: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key in TR4CTL_KEYS:
        raw, source = _pick(key.name, file_values, environ, options)
        sources[key.name] = source
        if raw is None or (raw == "" and key.default is None):
            typed[key.field] = key.default
            continue
        try:
            typed[key.field] = key.parse(raw)
        except ValueError as exc:
            raise BadInput(f"setting {key.name} is invalid: {exc}",
                           _where_to_fix(key.name, source, env_file)) from None
    backend = {name: value for name, value in file_values.items()
               if not name.startswith(PREFIX)}
    return Config(**typed, sources=sources, backend_values=backend)


def _pick(name: str, file_values: Mapping[str, str | None], environ: Mapping[str, str],
          options: Mapping[str, str | None]) -> tuple[str | None, str]:
    if options.get(name) is not None:
        return options[name], option_name(name)
    if name in environ:
        return environ[name], ENVIRONMENT
    if file_values.get(name) is not None:
        return file_values[name], ENV_FILE
    return None, DEFAULT


def option_name(key: str) -> str:
    return "--" + key.removeprefix(PREFIX).lower().replace("_", "-")


def _where_to_fix(name: str, source: str, env_file: Path) -> str:
    if source == ENVIRONMENT:
        return f"fix or unset {name} in the environment"
    if source.startswith("--"):
        return f"fix the {source} option"
    return f"fix it in {env_file}"
