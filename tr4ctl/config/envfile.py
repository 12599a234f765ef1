"""The project's .env as text: made from the backend's .env.example with a real secret,
and edited line by line so every other line (comments included) stays as it is.

Values are written so that python-dotenv (tr4ctl) and compose's env_file parser (the
backend's container) read back the same text: bare when plain, single-quoted (literal
in both) otherwise, double-quoted only for a value holding a single quote.
"""

from __future__ import annotations

import re

from tr4ctl import rules

SECRET_KEY = rules.SECRET_KEY
# The backend's own check of a production secret: what `doctor` flags, the backend refuses.
secret_problem = rules.secret_problem

_PLAIN = re.compile(r"^[A-Za-z0-9_./:@,+=%~-]*$")


def with_jwt_secret(example_text: str, secret: str) -> str:
    line = f"{SECRET_KEY}={secret}"
    pattern = re.compile(rf"^{SECRET_KEY}=.*$", re.MULTILINE)
    if pattern.search(example_text):
        return pattern.sub(line, example_text, count=1)
    return example_text.rstrip("\n") + f"\n{line}\n"


def quoted(value: str) -> str:
    """The value as it must be written after `KEY=`; ValueError if no quoting keeps it
    the same for both readers."""
    if _PLAIN.match(value):
        return value
    if "'" not in value and "\\" not in value:
        return f"'{value}'"
    if "$" not in value and "`" not in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError("holds both a quote or backslash and a '$': it cannot be written to .env "
                     "so that compose and tr4ctl read the same value")


def with_values(text: str, updates: dict[str, str]) -> str:
    """Set KEY=VALUE lines in a .env text. A key written twice is written once, where it
    first stood (python-dotenv would otherwise read the last one)."""
    lines = text.splitlines()
    for key, value in updates.items():
        pattern = re.compile(rf"^\s*(export\s+)?{re.escape(key)}\s*=")
        positions = [i for i, line in enumerate(lines) if pattern.match(line)]
        new_line = f"{key}={quoted(value)}"
        if not positions:
            lines.append(new_line)
            continue
        lines[positions[0]] = new_line
        for index in reversed(positions[1:]):
            del lines[index]
    return "\n".join(lines) + "\n"


def without_keys(text: str, keys: tuple[str, ...] | list[str]) -> str:
    """The .env text with every KEY=... line of these keys removed (other lines as
    they are)."""
    if not keys:
        return text
    pattern = re.compile(rf"^\s*(export\s+)?({'|'.join(re.escape(k) for k in keys)})\s*=")
    lines = [line for line in text.splitlines() if not pattern.match(line)]
    return "\n".join(lines) + "\n"
