"""Input rules shared by the API schemas and the seeding command."""

from __future__ import annotations

import re

ROLES = ("admin", "founder")
MAX_EMAIL_CHARS = 254
MAX_NAME_CHARS = 200
# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is not our job.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.match(email):
        return "invalid email"
    return None


def role_problem(role: object) -> str | None:
    return None if role in ROLES else f"role must be one of {', '.join(ROLES)}"
