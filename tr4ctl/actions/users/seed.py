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
from tr4ctl.errors import BadInput, OperationFailed, Tr4ctlError
from tr4ctl.files import fsync_dir, read_regular_text, write_private
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
    require_backend_running(rt, "users seed")
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
    """One seed call (one transaction in the backend); the caller holds the lock.

    With --output the generated passwords are written (and synced) first: an account
    is never created with a password that exists nowhere. A full disk or a read-only
    folder refuses before any account exists."""
    plan = prepared.plan
    asked = [a for a in plan.accounts if a.email in prepared.asked]
    written = _write_new_private_file(prepared.output_file, generated_file_text(asked)) \
        if prepared.output_file and asked else None
    try:
        stdout = _run_seed(rt, plan)
    except Tr4ctlError:
        if written:  # refused in one transaction: no password of that file took effect
            written.unlink(missing_ok=True)
        raise
    # Interrupted, or an answer not understood: the accounts may exist, so the file stays.
    summary = _seed_summary(stdout, written)
    took_effect = set(summary.created) | (set(summary.updated) if plan.reset_password else set())
    report = SeedReport(summary, passwords_not_applied=sorted(
        e for e in prepared.given if e not in took_effect))
    if prepared.generated:
        report.generated = [a for a in asked if a.email in took_effect]
    if written and not report.generated:
        written.unlink(missing_ok=True)
    elif written:
        report.output_file = written
        if len(report.generated) < len(asked):
            # Another seed created some of them meanwhile: keep only passwords that apply.
            _rewrite(written, generated_file_text(report.generated), rt)
    return report


def _run_seed(rt: Runtime, plan: SeedPlan) -> str:
    command = ["seed", *(["--reset-password"] if plan.reset_password else [])]
    return run_manage(rt, command, what="seeding", input_text=seed_payload(plan),
                      refused="the accounts",
                      hint="nothing was changed (one transaction); see `tr4ctl logs backend`")


def _seed_summary(stdout: str, written: Path | None) -> SeedSummary:
    try:
        return parse_seed_summary(stdout)
    except ValueError as exc:
        kept = f"; the generated passwords are in {written}" if written else ""
        raise OperationFailed(f"seeding ran but gave no summary: {exc}",
                              f"check with `tr4ctl users list`{kept}") from None


def _write_new_private_file(path: Path, text: str) -> Path:
    """Create `path` (0600, never over an existing file) holding `text`, synced to disk;
    BadInput naming the path when it cannot be (ENOSPC, EROFS...), with nothing left."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _output_exists(path) from None
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(path.parent)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None
    return path


def _cannot_write(path: Path, exc: OSError) -> BadInput:
    return BadInput(f"cannot write the generated passwords to --output {path}: "
                    f"{exc.strerror or exc}",
                    "no account was created or changed; free space there or name a file in a "
                    "writable folder")


def _rewrite(path: Path, text: str, rt: Runtime) -> None:
    """Replace the file with the passwords that took effect; atomically, so that when it
    cannot be (a full disk) the first file, a superset, is still there."""
    try:
        write_private(path, text)
    except OSError as exc:
        rt.out.warn(f"{path} also lists accounts another seed created meanwhile (their "
                    f"passwords did not apply); it could not be rewritten: {exc.strerror}")


def _output_exists(path: Path) -> BadInput:
    return BadInput(f"--output {path} already exists",
                    "name a new file: an existing one may hold the only copy of passwords")
