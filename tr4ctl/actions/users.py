"""users seed / list: the backend's own `python3 -m app.manage` run in its container.

Accounts and passwords travel on the exec's standard input, never on a command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.plan.accounts import (
    Account,
    SeedPlan,
    SeedSummary,
    backend_error,
    generated_file_text,
    parse_seed_summary,
    parse_user_list,
    seed_payload,
    with_passwords,
)

if TYPE_CHECKING:
    from tr4ctl.cli.context import AppContext

MANAGE = ["python3", "-m", "app.manage"]
EXEC_TIMEOUT = 600.0  # bcrypt and a cold python on a busy machine; never cut a seed short


@dataclass
class SeedReport:
    summary: SeedSummary
    # Passwords this run generated and that took effect (created or reset accounts).
    generated: list[Account] = field(default_factory=list, repr=False)
    output_file: Path | None = None
    # Accounts whose given password was not applied (they exist; no --reset-password).
    passwords_not_applied: list[str] = field(default_factory=list)


def require_backend_running(app_ctx: AppContext) -> None:
    hint = "start the stack with `tr4ctl up`"
    if not app_ctx.paths.compose_file.exists():
        raise OperationFailed("the stack is not running (no stack in this project yet)", hint)
    app_ctx.engine.require_engine()
    backend = app_ctx.engine.service_states(("backend",))["backend"]
    if backend.state != "running":
        raise OperationFailed(f"the stack is not running (backend is {backend.state})", hint)


def list_accounts(app_ctx: AppContext) -> list[dict[str, Any]]:
    completed = app_ctx.engine.exec_in("backend", [*MANAGE, "list-users"], check=False,
                                       timeout=EXEC_TIMEOUT)
    if completed.returncode != 0:
        raise OperationFailed(f"listing accounts failed: {backend_error(completed.stderr)}",
                              "see `tr4ctl logs backend`")
    try:
        return parse_user_list(completed.stdout)
    except ValueError as exc:
        raise OperationFailed(f"listing accounts failed: {exc}", "see `tr4ctl logs backend`"
                              ) from None


PasswordSource = Callable[[list[Account]], dict[str, str]]


def seed_accounts(app_ctx: AppContext, accounts: list[Account], *, reset_password: bool,
                  ask_passwords: PasswordSource, generated: bool,
                  output_file: Path | None) -> SeedReport:
    """Pre-flight (stack, existing accounts, passwords, output file), then one seed call."""
    require_backend_running(app_ctx)
    existing = frozenset(a["email"] for a in list_accounts(app_ctx))
    plan = SeedPlan(accounts, existing, reset_password)
    needing = plan.needing_password
    if needing:
        origin = "generated" if generated else "prompt"
        plan = SeedPlan(with_passwords(accounts, ask_passwords(needing), origin),
                        existing, reset_password)
        missing = [a.email for a in plan.needing_password]
        if missing:  # a bug in the password source, not input
            raise OperationFailed(f"no password for {', '.join(missing)}", None)
    reserved = _reserve_private_file(output_file) if generated and needing and output_file \
        else None
    try:
        with app_ctx.changing("users seed"):
            summary = _run_seed(app_ctx, plan)
    except BaseException:
        if reserved:
            reserved.unlink(missing_ok=True)
        raise
    took_effect = set(summary.created) | (set(summary.updated) if reset_password else set())
    given = {a.email for a in accounts if a.password is not None}
    report = SeedReport(summary, passwords_not_applied=sorted(
        e for e in given if e not in took_effect))
    if generated:
        asked = {a.email for a in needing}
        report.generated = [a for a in plan.accounts
                            if a.email in asked and a.email in took_effect]
        if reserved and report.generated:
            _write_reserved(reserved, generated_file_text(report.generated), report.generated)
            report.output_file = reserved
        elif reserved:
            reserved.unlink(missing_ok=True)
    return report


def _run_seed(app_ctx: AppContext, plan: SeedPlan) -> SeedSummary:
    payload = seed_payload(plan)
    command = [*MANAGE, "seed", *(["--reset-password"] if plan.reset_password else [])]
    completed = app_ctx.engine.exec_in("backend", command, input_text=payload, check=False,
                                       timeout=EXEC_TIMEOUT)
    if completed.returncode == 2:
        raise BadInput(f"the backend refused the accounts: {backend_error(completed.stderr)}",
                       "nothing was changed")
    if completed.returncode != 0:
        raise OperationFailed(f"seeding failed: {backend_error(completed.stderr)}",
                              "nothing was changed (one transaction); see `tr4ctl logs backend`")
    try:
        return parse_seed_summary(completed.stdout)
    except ValueError as exc:
        raise OperationFailed(f"seeding ran but gave no summary: {exc}",
                              "check with `tr4ctl users list`") from None


def _reserve_private_file(path: Path) -> Path:
    """Create the --output file now (0600, never over an existing file), before any change."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BadInput(f"--output {path} already exists",
                       "name a new file: an existing one may hold the only copy of passwords"
                       ) from None
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
