"""Accounts to seed: parsing, validation and password rules, all decided before any call.

The rules are the backend's own (backend/app/rules.py, through tr4ctl.rules), so bad
input is refused here, with one line, before anything reaches the container.
No message ever contains a password.
"""

from __future__ import annotations

import json
import secrets
import stat
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tr4ctl import rules
from tr4ctl.errors import BadInput

# Re-exported: callers and tests know the rules by these names.
ROLES = rules.ROLES
MIN_PASSWORD_CHARS = rules.MIN_PASSWORD_CHARS
MAX_PASSWORD_BYTES = rules.MAX_PASSWORD_BYTES
MAX_EMAIL_CHARS = rules.MAX_EMAIL_CHARS
MAX_NAME_CHARS = rules.MAX_NAME_CHARS
ACCOUNT_KEYS = rules.ACCOUNT_KEYS
normalise_email = rules.normalise_email
email_problem = rules.email_problem
password_problem = rules.password_problem

GENERATED_BYTES = 18  # token_urlsafe(18): 24 characters, 144 bits
ENTRY_HINT = ('each account is {"email", "role", "name"?, "password"?} '
              f"(allowed fields: {', '.join(ACCOUNT_KEYS)})")


@dataclass(frozen=True)
class Account:
    email: str  # normalised: stripped, lowercase (as the backend stores it)
    role: str
    name: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SeedPlan:
    accounts: list[Account]
    existing: frozenset[str]
    reset_password: bool

    @property
    def needing_password(self) -> list[Account]:
        """New accounts, or every account on --reset-password, still without a password."""
        return [a for a in self.accounts if a.password is None
                and (self.reset_password or a.email not in self.existing)]

    @property
    def keeping_password(self) -> list[Account]:
        """Existing accounts whose password this run leaves alone."""
        return [] if self.reset_password else [a for a in self.accounts
                                               if a.email in self.existing]


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_BYTES)


# -- where the accounts come from -------------------------------------------------
def default_accounts(admin_email: str | None, founder_email: str | None) -> list[Account]:
    missing = [flag for flag, value in (("admin", admin_email), ("founder", founder_email))
               if not value]
    if missing:
        role = missing[0]
        raise BadInput(f"no {role} email for the default accounts",
                       f"pass --{role}-email or set TR4CTL_{role.upper()}_EMAIL in .env")
    return validated([Account(admin_email, "admin"), Account(founder_email, "founder")],
                     source="default accounts")


def parse_accounts_file(text: str, source: str) -> list[Account]:
    """A JSON list of {email, role, name?, password?}."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} "
                       f"column {exc.colno}", 'expected a list: [{"email": ..., "role": ...}]'
                       ) from None
    if not isinstance(document, list) or not document:
        raise BadInput(f"{source} must hold a non-empty JSON list of accounts",
                       'expected [{"email": ..., "role": "admin"|"founder", "name"?, '
                       '"password"?}]')
    return _validated_entries(document, source=source)


def validated(accounts: list[Account], *, source: str) -> list[Account]:
    """Normalised accounts, or BadInput naming the first problem."""
    return _validated_entries([{key: value for key, value in asdict(account).items()
                                if value is not None} for account in accounts], source=source)


def _validated_entries(entries: list[Any], *, source: str) -> list[Account]:
    seen: set[str] = set()
    result = []
    for index, entry in enumerate(entries, start=1):
        _require_valid(entry, where=f"{source} account {index}", source=source)
        email = normalise_email(entry["email"])
        if email in seen:
            raise BadInput(f"{source}: duplicate email {email}",
                           "emails are compared case-insensitively; list each account once")
        seen.add(email)
        result.append(Account(email, entry["role"], rules.normalise_name(entry.get("name")),
                              entry.get("password")))
    return result


def _require_valid(entry: object, *, where: str, source: str) -> None:
    """The backend's rule for one seed entry, worded for an operator."""
    found = rules.seed_entry_problem(entry)
    if not found:
        return
    key, problem = found
    if not key:
        raise BadInput(f"{where} {problem}", ENTRY_HINT)
    value = entry[key]
    if not isinstance(value, str):  # a malformed file, not a bad value
        raise BadInput(f"{where}: {key} {problem}", ENTRY_HINT)
    email = normalise_email(entry["email"])
    if key == "email":
        raise BadInput(f"{source}: invalid email {value.strip()[:80]!r}", "use name@domain.tld")
    if key == "role":
        raise BadInput(f"{source}: unknown role {value[:40]!r} for {email}",
                       f"use one of {', '.join(ROLES)}")
    if key == "name":
        raise BadInput(f"{source}: name of {email} is {problem}", None)
    require_strong(value, email, origin=source)


def require_strong(password: str, email: str, *, origin: str) -> None:
    if problem := password_problem(password, email):
        raise BadInput(f"weak password for {email} ({origin}): {problem}",
                       f"use at least {MIN_PASSWORD_CHARS} characters, not the email, "
                       "or --generate")


def holds_passwords(accounts: list[Account]) -> bool:
    return any(a.password is not None for a in accounts)


def require_private_file(mode: int, source: str) -> None:
    """A file holding passwords must be the owner's only (also: nobody else may edit it)."""
    if stat.S_IMODE(mode) & 0o077:
        raise BadInput(f"{source} holds passwords and is accessible by group or others "
                       f"(mode {stat.S_IMODE(mode):04o})", f"chmod 600 {source}")


def select_only(accounts: list[Account], only: list[str]) -> list[Account]:
    if not only:
        return accounts
    wanted = [normalise_email(email) for email in only]
    known = {a.email for a in accounts}
    for email in wanted:
        if email not in known:
            raise BadInput(f"--only {email}: not one of the accounts to seed",
                           f"choose among {', '.join(sorted(known))}")
    return [a for a in accounts if a.email in wanted]


# -- passwords from standard input -----------------------------------------------
def parse_password_lines(text: str, accounts: list[Account]) -> list[Account]:
    """One password per line, in account order, for the accounts without one in the file.

    Lines of accounts that already exist (without --reset-password) are read and ignored,
    so a script's input does not depend on the server's state.
    """
    wanted = [a for a in accounts if a.password is None]
    lines = text.splitlines()
    if len(lines) != len(wanted):
        order = ", ".join(a.email for a in wanted) or "none"
        raise BadInput(f"--password-stdin: expected {len(wanted)} password line(s), "
                       f"got {len(lines)}", f"one per line, in this order: {order}")
    given = dict(zip((a.email for a in wanted), lines))
    completed = []
    for account in accounts:
        if account.email in given:
            require_strong(given[account.email], account.email, origin="standard input")
            account = replace(account, password=given[account.email])
        completed.append(account)
    return completed


def with_passwords(accounts: list[Account], passwords: dict[str, str], origin: str
                   ) -> list[Account]:
    completed = []
    for account in accounts:
        if account.email in passwords:
            require_strong(passwords[account.email], account.email, origin=origin)
            account = replace(account, password=passwords[account.email])
        completed.append(account)
    return completed


# -- talking to the backend's `python3 -m app.manage` ---------------------------
def seed_payload(plan: SeedPlan) -> str:
    """The JSON the backend reads on stdin. An account whose password is kept is sent
    without one: the backend refuses (and writes nothing) if it would have to create it."""
    entries = []
    for account in plan.accounts:
        if account.password is None and account not in plan.keeping_password:
            raise ValueError(f"no password for {account.email}")  # a bug, not input
        entry: dict[str, Any] = {"email": account.email, "role": account.role}
        if account.password is not None:
            entry["password"] = account.password
        if account.name:
            entry["name"] = account.name
        entries.append(entry)
    return json.dumps({"accounts": entries})


@dataclass
class SeedSummary:
    created: list[str]
    updated: list[str]
    unchanged: list[str]

    def rows(self) -> list[list[str]]:
        return ([[e, "created"] for e in self.created] + [[e, "updated"] for e in self.updated]
                + [[e, "unchanged"] for e in self.unchanged])


def parse_seed_summary(stdout: str) -> SeedSummary:
    document = _last_json_line(stdout)
    if not isinstance(document, dict):
        raise ValueError("no JSON summary from the backend")
    return SeedSummary(*(list(document.get(key) or []) for key in
                         ("created", "updated", "unchanged")))


def backend_error(stderr: str) -> str:
    """The backend's one-line {"error": ...} (its messages never hold a password)."""
    for line in reversed(stderr.splitlines()):
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "error" in document:
            return str(document["error"])
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


USER_FIELDS = ("email", "name", "role", "created_at")


def parse_user_list(stdout: str) -> list[dict[str, Any]]:
    """Accounts from `list-users`, only the public fields (never a hash, whatever is sent)."""
    document = _last_json_line(stdout)
    if not isinstance(document, list):
        raise ValueError("no JSON list of users from the backend")
    return [{key: entry.get(key) for key in USER_FIELDS} for entry in document
            if isinstance(entry, dict)]


def _last_json_line(stdout: str) -> Any:
    for line in reversed(stdout.splitlines()):
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def generated_file_text(accounts: list[Account]) -> str:
    """--output: the same format as --file, so it can be fed back (it is written 0600)."""
    entries = []
    for account in accounts:
        entry = {"email": account.email, "role": account.role}
        if account.name:
            entry["name"] = account.name
        entry["password"] = account.password
        entries.append(entry)
    return json.dumps(entries, indent=2) + "\n"
