"""The certbot-renew service as the settings describe it now: a CA bundle saved by
`cert issue --ca-bundle` (or set with `config set`) reaches the unattended renewals
at once, not at the next `up`."""

from __future__ import annotations

import time

from tr4ctl.actions.stack.up import validate_compose_text
from tr4ctl.docker.health import wait_healthy
from tr4ctl.facts import RENEW_SERVICE
from tr4ctl.files import write_atomic
from tr4ctl.plan.stack import render_compose
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime

HEALTHY_TIMEOUT = 60.0


def refresh_renewal_service(rt: Runtime) -> bool:
    """Render the compose file again; if it changed, recreate certbot-renew from it (the
    other services keep running as they are until the next `up`). Returns whether the
    service was recreated."""
    text = render_compose(rt.config, last_environment(rt.paths), rt.paths, rt.stack_inputs)
    compose_file = rt.paths.compose_file
    if compose_file.exists() and compose_file.read_text(encoding="utf-8") == text:
        return False
    validate_compose_text(rt, text)
    write_atomic(compose_file, text)
    started = time.monotonic()
    rt.engine.compose_up([RENEW_SERVICE])
    wait_healthy(rt.engine, (RENEW_SERVICE,), timeout=HEALTHY_TIMEOUT, started=started)
    return True
