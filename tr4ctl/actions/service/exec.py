"""`tr4ctl exec SERVICE -- COMMAND...`: a command in a running container of the service,
attached to this terminal, its exit code passed through."""

from __future__ import annotations

from tr4ctl.plan.service_exec import ExecRequest, audit_details, check_request
from tr4ctl.runtime import Runtime


def exec_in_service(rt: Runtime, request: ExecRequest) -> int:
    from tr4ctl.project.audit import record

    # Pre-flight, no impact yet: a project, a known service, a command.
    if not rt.has_project:
        raise rt.no_project()
    check_request(request.service, request.command, rt.services)
    rt.engine.require_engine()
    # No stack lock: an interactive shell may stay open for hours and must not hold
    # deploys back. The audit line is written before the command runs (it may never end).
    record(rt.paths, "exec", **audit_details(request))
    return rt.engine.exec_attached(request.service, list(request.command), tty=request.tty)
