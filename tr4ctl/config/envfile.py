"""The project's .env: made from the backend's .env.example, with a real secret."""

from __future__ import annotations

import re

from tr4ctl import rules

SECRET_KEY = rules.SECRET_KEY
# The backend's own check of a production secret: what `doctor` flags, the backend refuses.
secret_problem = rules.secret_problem


def with_jwt_secret(example_text: str, secret: str) -> str:
    line = f"{SECRET_KEY}={secret}"
    pattern = re.compile(rf"^{SECRET_KEY}=.*$", re.MULTILINE)
    if pattern.search(example_text):
        return pattern.sub(line, example_text, count=1)
    return example_text.rstrip("\n") + f"\n{line}\n"


def with_values(text: str, updates: dict[str, str]) -> str:
    """Set KEY=VALUE lines in a .env text, keeping every other line as it is."""
    lines = text.splitlines()
    for key, value in updates.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        index = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
        if index is None:
            lines.append(f"{key}={value}")
        else:
            lines[index] = f"{key}={value}"
    return "\n".join(lines) + "\n"
