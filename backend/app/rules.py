"""The account and secret rules, in one place for the backend and for tr4ctl.

Standard library only and no `app.*` imports: tr4ctl loads this file by its path (it
cannot import the service it operates), so the CLI refuses exactly what the backend
would. Problems are short phrases without the offending value (it may be a password);
each caller prefixes its own location.
"""

from __future__ import annotations

import re

ROLES = ("admin", "founder")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (or, since bcrypt 5, rejects) anything longer
MAX_EMAIL_CHARS = 254
MAX_NAME_CHARS = 200
ACCOUNT_KEYS = ("email", "role", "name", "password")
REQUIRED_ACCOUNT_KEYS = ("email", "role")

# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is not our job.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")

SECRET_KEY = "JWT_SECRET_KEY"
MIN_SECRET_BYTES = 32
# Words that only appear in documentation-style values, never in `openssl rand` output.
PLACEHOLDER_MARKERS = (
    "change",
    "generate",
    "secret",
    "example",
    "placeholder",
    "replace",
    "insecure",
    "password",
    "xxx",
    "<",
    ">",
)
MIN_SECRET_DISTINCT_CHARS = 8

LOGIN_RATE_LIMIT_ATTEMPTS = 5
LOGIN_RATE_LIMIT_WINDOW_SECONDS = 60


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """For an already normalised email."""
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.match(email):
        return "invalid email"
    return None


def password_problem(password: str, email: str | None = None) -> str | None:
    if len(password) < MIN_PASSWORD_CHARS:
        return f"shorter than {MIN_PASSWORD_CHARS} characters"
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return f"longer than {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)"
    if "\x00" in password:
        return "contains a NUL character"
    if email is not None and password.strip().casefold() == email.strip().casefold():
        return "equal to the email"
    return None


def role_problem(role: object) -> str | None:
    return None if role in ROLES else f"must be one of {', '.join(ROLES)}"


def normalise_name(name: str | None) -> str | None:
    """Stripped; blank means no name."""
    return (name.strip() or None) if name else None


def name_problem(name: str) -> str | None:
    if len(name.strip()) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    return None


def secret_problem(value: str | None) -> str | None:
    """Why a JWT secret is not fit for production, or None. Never quotes the secret."""
    if not value or not value.strip():
        # Both phrasings the CLI and the backend printed before: scripts may match either.
        return f"{SECRET_KEY} is missing (it is not set or is blank)"
    lowered = value.lower()
    marker = next((m for m in PLACEHOLDER_MARKERS if m in lowered), None)
    if marker:
        return f"{SECRET_KEY} is a placeholder (contains {marker!r})"
    if len(set(value)) < MIN_SECRET_DISTINCT_CHARS:
        return f"{SECRET_KEY} is a placeholder (too few distinct characters)"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"{SECRET_KEY} is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def seed_entry_problem(entry: object) -> tuple[str, str] | None:
    """The first rule one seed account entry breaks, as (field, problem), or None.

    field is "" when the entry as a whole is wrong; its problem then reads after the
    entry's name ("... has no role"). Optional fields may be null, meaning absent (a
    missing password keeps the stored one).
    """
    if not isinstance(entry, dict):
        return "", "is not an object"
    unknown = sorted(str(key) for key in set(entry) - set(ACCOUNT_KEYS))
    if unknown:
        return "", f"has unknown field(s) {', '.join(unknown)}"
    for key in REQUIRED_ACCOUNT_KEYS:
        if key not in entry:
            return "", f"has no {key}"
    for key in ACCOUNT_KEYS:
        value = entry.get(key)
        if not isinstance(value, str) and (key in REQUIRED_ACCOUNT_KEYS or value is not None):
            return key, "must be a string"
    email = normalise_email(entry["email"])
    name, password = entry.get("name"), entry.get("password")
    checks = (
        ("email", email_problem(email)),
        ("role", role_problem(entry["role"])),
        ("name", name_problem(name) if name is not None else None),
        ("password", password_problem(password, email) if password is not None else None),
    )
    return next(((key, problem) for key, problem in checks if problem), None)
