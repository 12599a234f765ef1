"""`tr4ctl maintenance on` and `tr4ctl maintenance off`: nginx answers 503 (with
Retry-After) on every path but /health and the ACME challenge, switched with the tested reload of `nginx use`
(actions/nginx/apply.py: `nginx -t` first, the old config back on any failure). The
state is kept in state.json, so `up` and every later render of nginx keep it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from tr4ctl.actions.nginx.apply import active_nginx_mode, apply_nginx_config
from tr4ctl.plan.environments import NginxMode
from tr4ctl.plan.maintenance import STATE_KEY, Maintenance, check_message
from tr4ctl.plan.stack import render_nginx
from tr4ctl.runtime import Runtime


@dataclass(frozen=True)
class MaintenanceReport:
    on: bool
    message: str | None
    since: str | None
    nginx: str  # unchanged, reloaded, written (nginx not running: the next `up` serves it)


def current_maintenance(rt: Runtime) -> Maintenance | None:
    from tr4ctl.project.state import maintenance_record

    return maintenance_record(rt.paths)


def switch_maintenance(rt: Runtime, on: bool, message: str | None = None) -> MaintenanceReport:
    from tr4ctl.project.audit import record
    from tr4ctl.project.state import forget_state, now_text, update_state

    # Pre-flight, no impact yet: the message, the project, the config rendered.
    wanted = Maintenance(check_message(message), now_text()) if on else None
    if not rt.has_project:
        raise rt.no_project()
    current = current_maintenance(rt)
    if on and current is not None and current.message == wanted.message:
        wanted = current  # already on with this message: keep its start time
    mode = active_nginx_mode(rt)
    text = None
    if mode in {m.value for m in NginxMode}:
        inputs = replace(rt.stack_inputs, maintenance=wanted)
        text = render_nginx(rt.config, NginxMode(mode), inputs)
    # Impact: nginx first (tested, reloaded, answering), then the record of it.
    result = apply_nginx_config(rt, text) if text is not None else "written"
    if wanted is None:
        forget_state(rt.paths, STATE_KEY)
    else:
        update_state(rt.paths, **{STATE_KEY: wanted.as_state()})
    rt.forget_stack_inputs()
    record(rt.paths, "maintenance", on=on, nginx=result)
    return MaintenanceReport(on, wanted.message if wanted else None,
                             wanted.since if wanted else None, result)


@contextmanager
def maintenance_during(rt: Runtime, wanted: bool, what: str) -> Iterator[None]:
    """`deploy --maintenance`, `backup restore --maintenance`: on for the command's
    duration, off after it, on failure too. Already on before: left on after."""
    if not wanted or current_maintenance(rt) is not None:
        yield
        return
    switch_maintenance(rt, True, f"{what} in progress; back shortly.")
    try:
        yield
    finally:
        from tr4ctl.interrupts import deferred

        # Never masks the command's own error: a signal here is noted, not raised.
        with deferred("turning maintenance mode off", raise_after=False):
            switch_maintenance(rt, False)
