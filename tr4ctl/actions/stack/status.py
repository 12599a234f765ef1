"""`tr4ctl status`: each service's state, health, ports, image and env, and whether the
stack as a whole is healthy, degraded (half up, an `up` that did not finish) or stopped."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tr4ctl.actions.disk_space import free_space
from tr4ctl.actions.nginx.apply import active_nginx_mode
from tr4ctl.errors import ExitCode
from tr4ctl.facts import ALL_SERVICES, BACKUP_SERVICE, SWARM
from tr4ctl.lock import current_holder
from tr4ctl.plan.environments import https_pending
from tr4ctl.plan.services import ServiceState, stack_condition
from tr4ctl.project.releases import read_history
from tr4ctl.project.state import (
    CommandStep,
    UnfinishedUp,
    last_interrupted,
    maintenance_record,
    unfinished_step,
    unfinished_up,
)
from tr4ctl.runtime import Runtime

# `status --check`: what a monitor acts on (the README's exit-code rule).
CHECK_EXIT_CODES = {"healthy": ExitCode.OK, "degraded": ExitCode.FAILED,
                    "stopped": ExitCode.PREREQUISITE}


@dataclass
class StackStatus:
    project: str
    nginx_config: str | None
    services: list[dict[str, Any]]
    condition: str  # healthy, degraded, stopped
    problems: list[str] = field(default_factory=list)
    unfinished_up: UnfinishedUp | None = None
    changing_now: str | None = None  # who holds the stack's lock
    release: dict[str, Any] | None = None  # the current backend release (`tr4ctl deploy`)
    unfinished_step: CommandStep | None = None  # a deploy/db use/restore killed part way
    interrupted: CommandStep | None = None  # the last one a signal ended (put back)
    maintenance: dict[str, str] | None = None  # on: its message and since when
    backup_schedule: dict[str, Any] | None = None  # TR4CTL_BACKUP_SCHEDULE's last runs
    # Shown, not part of the condition: the stack still serves (plan/disk_space.py).
    warnings: list[str] = field(default_factory=list)

    @property
    def check_exit_code(self) -> int:
        return int(CHECK_EXIT_CODES[self.condition])

    def data(self) -> dict[str, Any]:
        return {"project": self.project, "nginx_config": self.nginx_config,
                "condition": self.condition, "problems": self.problems,
                "unfinished_up": asdict(self.unfinished_up) if self.unfinished_up else None,
                "unfinished_step": asdict(self.unfinished_step) if self.unfinished_step
                else None,
                "interrupted": asdict(self.interrupted) if self.interrupted else None,
                "changing_now": self.changing_now, "https_pending": https_pending(self.nginx_config),
                "release": self.release, "maintenance": self.maintenance,
                "warnings": self.warnings,
                "services": self.services, "backup_schedule": self.backup_schedule}


def stack_status(rt: Runtime) -> StackStatus:
    # A folder with no project is no project, whatever runs on the engine under the
    # default name; only a project named explicitly is looked up without its folder.
    if not rt.has_project and not rt.project_named:
        raise rt.no_project()
    rt.engine.require_engine()
    if rt.config.target == SWARM:
        # One line naming `docker swarm init`, not the engine's own error about services.
        rt.engine.require_manager()
    # Every service the stack runs (PostgreSQL's on postgres), then the certbot tool.
    states = rt.engine.service_states(tuple(dict.fromkeys((*rt.services, *ALL_SERVICES))))
    if not rt.has_project and all(state.state == "absent" for state in states.values()):
        raise rt.no_project()
    holder = current_holder(rt.paths.rendered_dir / "lock")
    # While an `up` runs, its record is its progress, not something left half done.
    unfinished = unfinished_up(rt.paths) if holder is None else None
    step = unfinished_step(rt.paths) if holder is None else None
    condition, problems = stack_condition(states, rt.services,
                                          unfinished=unfinished is not None or step is not None)
    if step is not None:
        problems.append(f"the last {step.describe()} (killed?): check the stack, then run "
                        "it again")
    scheduled = None
    if condition != "stopped" and states.get(BACKUP_SERVICE) is not None \
            and states[BACKUP_SERVICE].state == "running":
        from tr4ctl.actions.backup.schedule import schedule_report

        scheduled = schedule_report(rt)
        if scheduled is not None and scheduled.problem:
            condition = "degraded"
            problems.append(scheduled.problem)
    # certbot is a tool run on demand: shown only while a run exists.
    services = [_shown(state) for name, state in states.items()
                if not (name == "certbot" and state.state == "absent")]
    current = read_history(rt.paths).current
    maintenance = maintenance_record(rt.paths)
    low_space = free_space(rt).warning()
    return StackStatus(rt.config.project_name, active_nginx_mode(rt), services, condition,
                       problems, unfinished, holder,
                       {"id": current.id, "image": current.image, "time": current.time}
                       if current else None, step, last_interrupted(rt.paths),
                       maintenance.as_state() if maintenance else None,
                       scheduled.data() if scheduled else None,
                       [low_space] if low_space else [])


def _shown(state: ServiceState) -> dict[str, Any]:
    """A service for the table and --json: the check's raw output stays out (its meaning,
    a backend that is not ready, is among the problems)."""
    shown = asdict(state)
    shown.pop("check_output", None)
    return shown
