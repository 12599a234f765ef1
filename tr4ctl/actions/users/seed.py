"""`tr4ctl users seed`: create or update accounts through the backend's own seeding.

Pre-flight (the stack, existing accounts, passwords, the output file) happens in
prepare_seed, before the caller takes the stack's lock; apply_seed changes things.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tr4ctl.actions.users.list import list_accounts
from tr4ctl.actions.users.manage import require_backend_running, run_manage
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.files import read_regular_text
from tr4ctl.plan.accounts import (
    Account,
    SeedPlan,
    SeedSummary,
    default_accounts,
    generate_password,
    generated_file_text,
    holds_passwords,
    parse_accounts_file,
    parse_password_lines,
    parse_seed_summary,
    require_private_file,
    seed_payload,
    select_only,
    with_passwords,
)
from tr4ctl.runtime import Runtime

# A JSON list of accounts; a megabyte is thousands of them.
ACCOUNTS_FILE_LIMIT = 1024 * 1024


@dataclass
class SeedReport:
    summary: SeedSummary
    # Passwords this run generated and that took effect (created or reset accounts).
    generated: list[Account] = field(default_factory=list, repr=False)
    output_file: Path | None = None
    # Accounts whose given password was not applied (they exist; no --reset-password).
    passwords_not_applied: list[str] = field(default_factory=list)


@dataclass
class PreparedSeed:
    plan: SeedPlan
    given: frozenset[str]  # accounts whose password came with the input
    asked: frozenset[str]  # accounts whose password the password source gave
    generated: bool
    output_file: Path | None


PasswordSource = Callable[[list[Account]], dict[str, str]]


def check_seed_flags(file: Path | None, admin_email: str | None, founder_email: str | None,
                     password_stdin: bool, generate: bool, output: Path | None, *,
                     terminal: bool) -> None:
    """Refuses flag combinations before anything is read or asked."""
    if file and (admin_email or founder_email):
        raise BadInput("--file replaces the default accounts",
                       "drop --admin-email/--founder-email, or put those accounts in the file")
    if password_stdin and generate:
        raise BadInput("--password-stdin and --generate are two password sources",
                       "choose one")
    if output and not generate:
        raise BadInput("--output is where --generate writes passwords", "add --generate")
    if generate and not output and not terminal:
        raise BadInput("--generate without a terminal would print passwords into a pipe or log",
                       "add --output FILE (created 0600) or run it on a terminal")


def accounts_to_seed(rt: Runtime, file: Path | None, admin_email: str | None,
                     founder_email: str | None, only: list[str], *,
                     password_lines: str | None) -> list[Account]:
    """The accounts of --file, or the default admin and founder; --only applied; the
    passwords read from standard input (--password-stdin) filled in."""
    accounts = select_only(_from_file(file) if file is not None else default_accounts(
        admin_email or rt.config.admin_email, founder_email or rt.config.founder_email), only)
    if password_lines is not None:
        accounts = parse_password_lines(password_lines, accounts)
    return accounts


def _from_file(file: Path) -> list[Account]:
    try:
        text = read_regular_text(file, "--file", limit=ACCOUNTS_FILE_LIMIT)
        mode = file.stat().st_mode
    except FileNotFoundError:
        raise BadInput(f"--file {file} does not exist", "check the path") from None
    accounts = parse_accounts_file(text, str(file))
    if holds_passwords(accounts):
        require_private_file(mode, str(file))
    return accounts


def generated_passwords(accounts: list[Account]) -> dict[str, str]:
    return {account.email: generate_password() for account in accounts}


def prepare_seed(rt: Runtime, accounts: list[Account], *, reset_password: bool,
                 ask_passwords: PasswordSource, generated: bool,
                 output_file: Path | None) -> PreparedSeed:
    require_backend_running(rt)
    existing = frozenset(a["email"] for a in list_accounts(rt))
    plan = SeedPlan(accounts, existing, reset_password)
    needing = plan.needing_password
    writes_output = generated and bool(needing) and output_file is not None
    if writes_output and output_file.exists():
        raise _output_exists(output_file)
    if needing:
        origin = "generated" if generated else "prompt"
        plan = SeedPlan(with_passwords(accounts, ask_passwords(needing), origin),
                        existing, reset_password)
        missing = [a.email for a in plan.needing_password]
        if missing:  # a bug in the password source, not input
            raise OperationFailed(f"no password for {', '.join(missing)}", None)
    return PreparedSeed(plan, frozenset(a.email for a in accounts if a.password is not None),
                        frozenset(a.email for a in needing), generated,
                        output_file if writes_output else None)


def apply_seed(rt: Runtime, prepared: PreparedSeed) -> SeedReport:
    """One seed call (one transaction in the backend); the caller holds the lock."""
    reserved = _reserve_private_file(prepared.output_file) if prepared.output_file else None
    try:
        summary = _run_seed(rt, prepared.plan)
    except BaseException:
        if reserved:
            reserved.unlink(missing_ok=True)
        raise
    reset = prepared.plan.reset_password
    took_effect = set(summary.created) | (set(summary.updated) if reset else set())
    report = SeedReport(summary, passwords_not_applied=sorted(
        e for e in prepared.given if e not in took_effect))
    if prepared.generated:
        report.generated = [a for a in prepared.plan.accounts
                            if a.email in prepared.asked and a.email in took_effect]
        if reserved and report.generated:
            _write_reserved(reserved, generated_file_text(report.generated), report.generated)
            report.output_file = reserved
        elif reserved:
            reserved.unlink(missing_ok=True)
    return report


def _run_seed(rt: Runtime, plan: SeedPlan) -> SeedSummary:
    command = ["seed", *(["--reset-password"] if plan.reset_password else [])]
    stdout = run_manage(rt, command, what="seeding", input_text=seed_payload(plan),
                        refused="the accounts",
                        hint="nothing was changed (one transaction); see `tr4ctl logs backend`")
    try:
        return parse_seed_summary(stdout)
    except ValueError as exc:
        raise OperationFailed(f"seeding ran but gave no summary: {exc}",
                              "check with `tr4ctl users list`") from None


def _reserve_private_file(path: Path) -> Path:
    """Create the --output file now (0600, never over an existing file), before any change."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _output_exists(path) from None
    except OSError as exc:
        raise BadInput(f"cannot create --output {path}: {exc.strerror}", None) from None
    os.close(fd)
    return path


def _write_reserved(path: Path, text: str, accounts: list[Account]) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        emails = " ".join(f"--only {a.email}" for a in accounts)
        raise OperationFailed(
            f"accounts seeded but their generated passwords could not be written to {path}: "
            f"{exc.strerror}",
            f"set new ones: `tr4ctl users seed --reset-password --generate {emails}`") from None


def _output_exists(path: Path) -> BadInput:
    return BadInput(f"--output {path} already exists",
                    "name a new file: an existing one may hold the only copy of passwords")
