"""The backup-schedule service's last runs (TR4CTL_BACKUP_SCHEDULE), as `status`,
`backup list` and `verify` show them: read from the state file the service writes."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from tr4ctl.errors import Tr4ctlError
from tr4ctl.facts import BACKUP_SERVICE
from tr4ctl.plan.offsite import STATE_FILE, ScheduleState, describe_state, parse_state
from tr4ctl.runtime import Runtime


@dataclass
class ScheduleReport:
    schedule: str
    target: str | None
    verdict: str  # ok, failed, pending, unknown
    words: str
    state: ScheduleState | None

    def data(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "target": self.target, "verdict": self.verdict,
                "words": self.words, "state": asdict(self.state) if self.state else None}

    @property
    def problem(self) -> str | None:
        """What makes `status` degraded: a failed run, or a service with no state."""
        if self.verdict in ("failed", "unknown"):
            return f"scheduled backup: {self.words}"
        return None


def schedule_report(rt: Runtime) -> ScheduleReport | None:
    """None without a schedule. A state file that cannot be read is no state (strict)."""
    config = rt.config
    if not config.backup_schedule:
        return None
    state = None
    try:
        read = rt.engine.exec_in(BACKUP_SERVICE, ["cat", STATE_FILE], check=False, timeout=20)
    except Tr4ctlError as error:
        return ScheduleReport(config.backup_schedule, config.backup_target, "unknown",
                              f"the {BACKUP_SERVICE} service cannot be asked ({error.message})",
                              None)
    if read.returncode == 0:
        try:
            state = parse_state(read.stdout)
        except ValueError as error:
            return ScheduleReport(config.backup_schedule, config.backup_target, "unknown",
                                  f"its state file is unreadable ({error})", None)
    verdict, words = describe_state(state, time.time())
    return ScheduleReport(config.backup_schedule, config.backup_target, verdict, words, state)
