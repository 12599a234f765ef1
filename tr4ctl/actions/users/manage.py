"""The backend's own `python3 -m app.manage`, run in its container: accounts and
passwords travel on the exec's standard input, never on a command line."""

from __future__ import annotations

from tr4ctl.actions.preflight import require_running, require_stack
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.plan.accounts import backend_error
from tr4ctl.runtime import Runtime

MANAGE = ["python3", "-m", "app.manage"]
EXEC_TIMEOUT = 600.0  # bcrypt and a cold python on a busy machine; never cut a seed short
# app.manage's exit code for input it refused (nothing was written).
REFUSED = 2


def require_backend_running(rt: Runtime, command: str, part: str = "accounts") -> None:
    """Running, and providing the optional part `command` needs (exit 3 otherwise)."""
    hint = "start the stack with `tr4ctl up`"
    require_stack(rt, hint=hint)
    require_running(rt, "backend", message="the stack is not running (backend is {state})",
                    hint=hint)
    from tr4ctl.actions.checks.backend_parts import require_part

    require_part(rt, part, command)


def run_manage(rt: Runtime, args: list[str], *, what: str, input_text: str | None = None,
               refused: str | None = None, hint: str = "see `tr4ctl logs backend`") -> str:
    """stdout of `app.manage ARGS`, else its one-line error: "<what> failed: ...", or,
    for input it refused (`refused` names that input), bad input: nothing was written."""
    completed = rt.engine.exec_in("backend", [*MANAGE, *args], input_text=input_text,
                                  check=False, timeout=EXEC_TIMEOUT)
    if completed.returncode == REFUSED and refused is not None:
        raise BadInput(f"the backend refused {refused}: {backend_error(completed.stderr)}",
                       "nothing was changed")
    if completed.returncode != 0:
        raise OperationFailed(f"{what} failed: {backend_error(completed.stderr)}", hint)
    return completed.stdout
