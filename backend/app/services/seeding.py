"""Operator account seeding: validate the whole input first, then upsert in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app import users_repo
from app.core.security import hash_password
from app.rules import normalise_email, normalise_name, seed_entry_problem


class SeedInputError(Exception):
    """Invalid seed input; the message never contains a password."""


@dataclass(frozen=True)
class SeedAccount:
    email: str
    role: str
    name: str | None
    # None: keep the stored password (allowed only for an account that already exists).
    password: str | None = field(repr=False)


@dataclass
class SeedSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def parse_seed_input(raw: bytes | str) -> list[SeedAccount]:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SeedInputError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (UnicodeDecodeError, RecursionError):
        raise SeedInputError("malformed JSON: not valid UTF-8 text or nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get("accounts"), list):
        raise SeedInputError('expected an object {"accounts": [...]}')
    accounts = [_parse_account(i, entry) for i, entry in enumerate(document["accounts"])]
    seen: set[str] = set()
    for i, account in enumerate(accounts):
        if account.email in seen:
            raise SeedInputError(f"accounts[{i}].email: duplicate email {account.email}")
        seen.add(account.email)
    return accounts


def _parse_account(index: int, entry: object) -> SeedAccount:
    where = f"accounts[{index}]"
    if found := seed_entry_problem(entry):
        key, problem = found
        raise SeedInputError(f"{where}.{key}: {problem}" if key else f"{where} {problem}")
    return SeedAccount(
        email=normalise_email(entry["email"]),
        role=entry["role"],
        name=normalise_name(entry.get("name")),
        password=entry.get("password"),
    )


def apply_seed(
    session: Session, accounts: list[SeedAccount], *, rounds: int, reset_password: bool
) -> SeedSummary:
    """Upsert every account in one transaction. Existing passwords change only on reset.

    An account without a password is refused (SeedInputError, nothing written) when it
    would be created or its password reset.
    """
    summary = SeedSummary()
    with session.begin():
        for account in accounts:
            user = users_repo.get_by_email(session, account.email)
            if account.password is None and (user is None or reset_password):
                action = "create" if user is None else "reset"
                raise SeedInputError(f"{account.email}: a password is needed to {action} it")
            if user is None:
                users_repo.add_user(
                    session,
                    email=account.email,
                    role=account.role,
                    name=account.name,
                    password_hash=hash_password(account.password, rounds),
                )
                summary.created.append(account.email)
                continue
            changed = False
            if user.role != account.role:
                user.role, changed = account.role, True
            # An omitted name keeps the stored one.
            if account.name is not None and user.name != account.name:
                user.name, changed = account.name, True
            if reset_password:
                user.password_hash, changed = hash_password(account.password, rounds), True
            (summary.updated if changed else summary.unchanged).append(account.email)
    return summary
