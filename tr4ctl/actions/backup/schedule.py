"""The backup-schedule service's last runs (TR4CTL_BACKUP_SCHEDULE), as `status`,
`backup list` and `verify` show them: read from the state file the service writes."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from tr4ctl.errors import BadInput, Tr4ctlError
from tr4ctl.facts import BACKUP_SERVICE
from tr4ctl.plan.offsite import (
    STATE_FILE,
    ScheduleState,
    describe_state,
    parse_state,
    with_next_run,
)
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
            state = with_next_run(parse_state(read.stdout), config.backup_schedule,
                                  time.time())
        except ValueError as error:
            return ScheduleReport(config.backup_schedule, config.backup_target, "unknown",
                                  f"its state file is unreadable ({error})", None)
    verdict, words = describe_state(state, time.time())
    return ScheduleReport(config.backup_schedule, config.backup_target, verdict, words, state)


@dataclass
class OffsiteCheck:
    target: str
    ok: bool
    output: str


def check_offsite(rt: Runtime) -> OffsiteCheck:
    """`backup verify --offsite`: restic check reading every pack at the target, in the
    running backup-schedule service (its key and credentials are mounted there)."""
    from tr4ctl.actions.preflight import require_stack_running
    from tr4ctl.errors import MissingPrerequisite, OperationFailed
    from tr4ctl.plan.offsite import RESTIC_WRAPPER

    if not rt.config.backup_schedule or not rt.config.backup_target:
        raise MissingPrerequisite("no off-host copies: TR4CTL_BACKUP_SCHEDULE is not set",
                                  "set TR4CTL_BACKUP_SCHEDULE and TR4CTL_BACKUP_TARGET, then "
                                  "run `tr4ctl up`")
    require_stack_running(rt)
    done = rt.engine.exec_in(BACKUP_SERVICE, [RESTIC_WRAPPER, "check", "--read-data"],
                             check=False, timeout=3600)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        last = [line for line in output.splitlines() if line.strip()][-3:]
        raise OperationFailed(f"the copies at {rt.config.backup_target} failed verification: "
                              + " | ".join(last),
                              "the next scheduled pass uploads what is missing; run `tr4ctl "
                              "backup verify --offsite` again after it")
    return OffsiteCheck(rt.config.backup_target, True, output)


_FILLED = {
    "TR4CTL_BACKUP_SSH_KEY": "give the private key the target's authorized_keys trusts",
    "TR4CTL_BACKUP_SSH_KNOWN_HOSTS": "write the target's host key into it (`HOST ssh-ed25519 "
                                     "AAAA...`, from the server's /etc/ssh/*.pub)",
    "TR4CTL_BACKUP_S3_CREDENTIALS": "write AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=... "
                                    "into it",
}


def require_backup_files(config) -> None:
    """The files a schedule mounts: there, regular, and the secret ones readable by their
    owner only (ssh refuses a key others can read; credentials must not be either)."""
    import stat

    from tr4ctl.files import regular_file_problem

    if not config.backup_schedule:
        return
    files = (("TR4CTL_BACKUP_SSH_KEY", config.backup_ssh_key, True),
             ("TR4CTL_BACKUP_SSH_KNOWN_HOSTS", config.backup_ssh_known_hosts, False),
             ("TR4CTL_BACKUP_S3_CREDENTIALS", config.backup_s3_credentials, True))
    for key, path, secret in files:
        if path is None:
            continue
        problem = "does not exist" if not path.exists() else regular_file_problem(path)
        if problem:
            raise BadInput(f"{key}: {path} {problem}", f"`tr4ctl config set {key} /path/to/file`")
        # Of no use to ssh or restic, and a swarm refuses an empty secret mid-deploy.
        if path.stat().st_size == 0:
            raise BadInput(f"{key}: {path} is empty", _FILLED[key])
        if secret and stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise BadInput(f"{key}: {path} is readable by others", f"chmod 600 {path}")
