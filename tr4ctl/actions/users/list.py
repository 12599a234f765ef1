"""`tr4ctl users list`: accounts without their password hashes."""

from __future__ import annotations

from typing import Any

from tr4ctl.actions.users.manage import require_backend_running, run_manage
from tr4ctl.errors import OperationFailed
from tr4ctl.plan.accounts import parse_user_list
from tr4ctl.runtime import Runtime


def list_accounts(rt: Runtime) -> list[dict[str, Any]]:
    """The caller knows the backend runs (users list checks, verify and seed did)."""
    stdout = run_manage(rt, ["list-users"], what="listing accounts")
    try:
        return parse_user_list(stdout)
    except ValueError as exc:
        raise OperationFailed(f"listing accounts failed: {exc}", "see `tr4ctl logs backend`"
                              ) from None


def user_list(rt: Runtime) -> list[dict[str, Any]]:
    require_backend_running(rt, "users list")
    return list_accounts(rt)
