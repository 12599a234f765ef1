"""How often the engine checks the long-running services, and what tr4ctl reads from
those checks.

Each check is a `docker exec` (a few ms of CPU in dockerd, containerd and runc): four
services checked every second kept a third of a core busy on an idle stack. So the
checks are slow once a service is up (TR4CTL_HEALTHCHECK_INTERVAL, 30 s by default) and
fast only while it starts:
- Engine 25+ with compose 2.20.2+: the engine's own `start_interval` (1 s until the
  first passing check, then the slow interval);
- older engines refuse that key (the container is not created): a new container stays
  "starting" in the engine's eyes until its first check, one interval after its start.
  tr4ctl's waits (docker/health.py) run the container's own check themselves meanwhile,
  and remember the containers they saw pass it (status trusts that record until the
  engine's own check, newer, says otherwise);
- a swarm counts a task started (and puts it in DNS) only once the engine calls it
  healthy: its checks stay fast (1 s), as before, or every rolling update would wait
  a full interval per task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

FAST_INTERVAL = "1s"
# How long a starting service is checked fast (start_interval) before the slow interval
# applies anyway, and during which failed checks do not count.
START_PERIOD = "120s"
START_INTERVAL_ENGINE_MAJOR = 25
START_INTERVAL_COMPOSE = (2, 20, 2)


@dataclass(frozen=True)
class HealthcheckTiming:
    interval: str
    start_interval: str | None  # None: the engine cannot (tr4ctl's waits check instead)
    start_period: str
    retries: int
    timeout: str = "5s"

    @property
    def compose_waits_for_health(self) -> bool:
        """A `depends_on: condition: service_healthy` is answered within a second (else
        compose would wait an interval for the engine's first check)."""
        return self.start_interval is not None


def _numbers(version: str | None) -> tuple[int, ...]:
    numbers = []
    for part in (version or "").lstrip("v").split("+")[0].split("-")[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


def supports_start_interval(engine_version: str | None, compose_version: str | None) -> bool:
    engine = _numbers(engine_version)
    compose = _numbers(compose_version)
    return bool(engine) and engine[0] >= START_INTERVAL_ENGINE_MAJOR \
        and bool(compose) and compose >= START_INTERVAL_COMPOSE


def healthcheck_timing(interval: str, *, swarm: bool, engine_version: str | None,
                       compose_version: str | None) -> HealthcheckTiming:
    if swarm:
        # The old timing: 30 failed checks a second apart make a task unhealthy.
        return HealthcheckTiming(FAST_INTERVAL, None, START_PERIOD, retries=30)
    fast = FAST_INTERVAL if supports_start_interval(engine_version, compose_version) else None
    return HealthcheckTiming(interval, fast, START_PERIOD, retries=3)


def check_command(test: list[str] | None) -> list[str] | None:
    """The argv that runs a container's healthcheck (its Config.Healthcheck.Test) the way
    the engine runs it; None when it has none."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL" and len(test) > 1:
        return ["/bin/sh", "-c", test[1]]
    return None


def not_ready_reason(output: str | None) -> str | None:
    """From the backend's check output ("/ready 503 {...}" then "/health 200"): why it is
    live but not ready, or None when it is ready (or the output says nothing of /ready)."""
    lines = [line for line in (output or "").splitlines() if line.startswith("/ready")]
    if not lines:
        return None
    _, _, rest = lines[0].partition(" ")
    code, _, body = rest.partition(" ")
    # 404: a backend with no /ready (an optional part, README: Your own backend); its
    # check passed on /health, which is all it tells.
    if code in ("200", "404"):
        return None
    try:
        report = json.loads(body)
    except ValueError:
        return rest.strip() or "no answer"
    failing = [f"{name}: {check.get('reason', 'failed')}"
               for name, check in (report.get("checks") or {}).items()
               if isinstance(check, dict) and not check.get("ok")]
    return "; ".join(failing) or f"/ready answered {code}"


def instant(text: str | None) -> datetime | None:
    """The engine's RFC 3339 times (nanoseconds, "Z") and tr4ctl's isoformat ones."""
    if not text or text.startswith("0001-"):
        return None
    head, dot, tail = text.replace("Z", "+00:00").partition(".")
    if dot:
        digits = tail[:len(tail) - len(tail.lstrip("0123456789"))]
        zone = tail[len(digits):]
        head = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(head)
    except ValueError:
        return None


def own_check_is_newer(seen_ready_at: str | None, started_at: str | None,
                       checked_at: str | None) -> bool:
    """tr4ctl saw the container pass its check during this run of it, and the engine has
    not checked it since: the engine's "starting" (or older "unhealthy") is stale."""
    seen, started, checked = instant(seen_ready_at), instant(started_at), instant(checked_at)
    if seen is None or started is None or seen < started:
        return False
    return checked is None or checked < started or checked < seen
