"""The project's .env: made from the backend's .env.example, with a real secret."""

from __future__ import annotations

import re

SECRET_KEY = "JWT_SECRET_KEY"
# The backend refuses the same (backend/app/core/config.py); kept in step by hand, since
# the CLI cannot import the service it operates.
_PLACEHOLDER_HINTS = ("change", "generate", "secret", "example", "placeholder", "replace",
                      "insecure", "password", "xxx", "<", ">")


def with_jwt_secret(example_text: str, secret: str) -> str:
    line = f"{SECRET_KEY}={secret}"
    pattern = re.compile(rf"^{SECRET_KEY}=.*$", re.MULTILINE)
    if pattern.search(example_text):
        return pattern.sub(line, example_text, count=1)
    return example_text.rstrip("\n") + f"\n{line}\n"


def secret_problem(value: str | None) -> str | None:
    """Why a JWT secret is not fit for production, or None when it is."""
    if not value:
        return "JWT_SECRET_KEY is missing"
    lowered = value.lower()
    if any(hint in lowered for hint in _PLACEHOLDER_HINTS) or len(set(value)) < 8:
        return "JWT_SECRET_KEY is a placeholder"
    if len(value.encode()) < 32:
        return "JWT_SECRET_KEY is shorter than 32 bytes"
    return None


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
