"""A backend release by the target's own way: a replacement beside the running container
on compose (ship.py), the swarm's rolling update on a swarm (rolling_update.py)."""

from __future__ import annotations

from tr4ctl.actions.db.identity import require_database_as_recorded
from tr4ctl.actions.deploy.rolling_update import ship_rolling
from tr4ctl.actions.deploy.ship import ShipReport, ship
from tr4ctl.errors import OperationFailed
from tr4ctl.facts import SWARM
from tr4ctl.runtime import Runtime


def release_backend(rt: Runtime, *, image: str, kind: str, build: bool, timeout: float,
                    rolled_back_to: str | None = None) -> ShipReport:
    """The caller holds the stack's lock and chose the image."""
    # A new backend on another database than the data's would serve an empty one.
    require_database_as_recorded(rt)
    how = ship_rolling if rt.config.target == SWARM else ship
    try:
        report = how(rt, image=image, kind=kind, build=build, timeout=timeout,
                     rolled_back_to=rolled_back_to)
    except OperationFailed as exc:  # a deploy that failed (refusals are no incident)
        _alert(rt, kind, True, exc.message)
        raise
    _alert(rt, kind, False, f"release {report.release.id}, {image}")
    return report


def _alert(rt: Runtime, kind: str, failed: bool, detail: str) -> None:
    """One alert when releases start failing, one when one succeeds again."""
    from tr4ctl.actions.alerts.notify import alert_safely
    from tr4ctl.plan.alerts import release_text

    alert_safely(rt, "release", failed, release_text(rt.names.project, kind, failed, detail))
