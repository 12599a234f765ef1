"""Scheduled off-host backups (#22), decided without files, clock or processes: the
schedule and retention settings, the restic target, and the meaning of the state file
the `backup-schedule` service writes."""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from tr4ctl.facts import POSTGRES_DUMP

STATE_FORMAT_VERSION = 1
NAMED_SCHEDULES = {"hourly": 3600, "daily": 86400}
_INTERVAL = re.compile(r"^(\d{1,6})(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A pass copies the whole database and Chroma's volume: more often than this is the
# database-only loop's job (DB_INTERVAL_SECONDS).
MIN_INTERVAL_SECONDS = 60
# The recovery point for committed accounts: SQLite alone, online backup API, every
# this many seconds (restic dedupes the unchanged pages, so a pass adds little).
DB_INTERVAL_SECONDS = 30
_KEEP_PART = re.compile(r"^(\d{1,4})([hdwmy])$")
_KEEP_FLAGS = {"h": "--keep-hourly", "d": "--keep-daily", "w": "--keep-weekly",
               "m": "--keep-monthly", "y": "--keep-yearly"}
_SFTP = re.compile(r"^sftp:([a-z_][a-z0-9_.-]{0,31})@([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:]+\])"
                   r"(?::(\d{1,5}))?:(/[A-Za-z0-9._/-]*)$")
_S3 = re.compile(r"^s3:(https?)://([A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?/([a-z0-9][a-z0-9.-]{1,62})"
                 r"(/[A-Za-z0-9._/-]*)?$")


def schedule_seconds(value: str) -> int:
    """hourly, daily or an interval (15m, 2h, 1d) -> seconds; ValueError says the rule."""
    text = value.strip().lower()
    if text in NAMED_SCHEDULES:
        return NAMED_SCHEDULES[text]
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError("use hourly, daily, an interval such as 15m, 6h or 1d, or a cron "
                         "expression such as '0 */6 * * *' (UTC)")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValueError(f"must be at least {MIN_INTERVAL_SECONDS}s (the database alone is "
                         f"copied every {DB_INTERVAL_SECONDS}s anyway)")
    return seconds


@dataclass(frozen=True)
class CronTimes:
    """A 5-field cron expression (UTC) as the sets of values each field matches, for the
    service's shell loop to test each minute against (it cannot parse cron itself)."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 Sunday .. 6 Saturday, as `date +%w` prints them
    # Vixie cron: with both day fields restricted, either matching is enough; with one
    # of them `*`, both must match.
    days_and: bool

    def next_after(self, moment: datetime) -> datetime:
        from cronsim import CronSim

        return next(CronSim(self.expression, moment.astimezone(UTC)))


def parse_schedule(value: str) -> int | CronTimes:
    """TR4CTL_BACKUP_SCHEDULE: seconds between passes, or the cron expression's times.
    ValueError names the rule."""
    text = " ".join(value.split())
    if " " not in text:
        return schedule_seconds(text)
    return cron_times(text)


def cron_times(expression: str) -> CronTimes:
    # cronsim (README "Off-host copies" says why) parses; only the standard five fields
    # are taken, as the service's loop matches them (no seconds, L, W or #).
    from cronsim import CronSim, CronSimError

    if len(expression.split()) != 5:
        raise ValueError("a cron expression has 5 fields: minute hour day month weekday "
                         "(UTC), such as '0 */6 * * *'")
    try:
        parsed = CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
        next(parsed)
    except (CronSimError, StopIteration, ValueError) as exc:
        raise ValueError(f"{expression!r} is not a cron expression: {exc}") from None
    weekdays = {day for day in parsed.weekdays if isinstance(day, int)}
    if len(weekdays) != len(parsed.weekdays) or min(parsed.days) < 1:
        raise ValueError("L, W and # are not taken: use minute hour day month weekday with "
                         "numbers, names, ranges, lists and steps")
    return CronTimes(expression, tuple(sorted(parsed.minutes)), tuple(sorted(parsed.hours)),
                     tuple(sorted(parsed.days)), tuple(sorted(parsed.months)),
                     tuple(sorted({day % 7 for day in weekdays})), parsed.day_and)


def keep_flags(value: str) -> list[str]:
    """'24h,7d,4w' -> restic forget's ['--keep-hourly', '24', '--keep-daily', '7', ...]."""
    flags: list[str] = []
    seen: set[str] = set()
    for part in (p.strip().lower() for p in value.split(",")):
        match = _KEEP_PART.match(part)
        if not match or int(match.group(1)) == 0:
            raise ValueError("use generations such as 24h,7d,4w (h hourly, d daily, w weekly, "
                             "m monthly, y yearly)")
        if match.group(2) in seen:
            raise ValueError(f"'{match.group(2)}' is given twice")
        seen.add(match.group(2))
        flags += [_KEEP_FLAGS[match.group(2)], match.group(1)]
    return flags


@dataclass(frozen=True)
class Target:
    """A restic repository: sftp:user@host[:port]:/path or s3:http(s)://host[:port]/bucket."""

    kind: str  # "sftp" or "s3"
    repository: str  # what restic's -r takes
    host: str
    port: int | None
    user: str | None = None


def parse_target(value: str) -> Target:
    text = value.strip()
    if match := _SFTP.match(text):
        user, host, port, path = match.groups()
        if ".." in path.split("/"):
            raise ValueError("the path must not hold '..'")
        # restic's sftp:user@host:/path has no port: ssh gets it (-p) in sftp.command.
        return Target("sftp", f"sftp:{user}@{host}:{path}", host, int(port) if port else None, user)
    if match := _S3.match(text):
        scheme, host, port, bucket, prefix = match.groups()
        address = f"{host}:{port}" if port else host
        return Target("s3", f"s3:{scheme}://{address}/{bucket}{prefix or ''}", host,
                      int(port) if port else None)
    raise ValueError("use sftp:user@host[:port]:/path or s3:https://host[:port]/bucket")


def sftp_command(target: Target, key_file: str, known_hosts: str) -> str:
    """restic's -o sftp.command: ssh with the mounted key and known_hosts, never asking."""
    port = f" -p {target.port}" if target.port else ""
    return (f"ssh -i {key_file} -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts}{port} "
            f"{target.user}@{target.host} -s sftp")


@dataclass(frozen=True)
class ScheduleState:
    """The service's own account of its passes (STATE_FILE)."""

    last_run: int | None  # epoch seconds a full pass began
    last_exit: int | None
    last_size: int | None  # bytes the last snapshot holds
    last_added: int | None  # bytes it added at the target
    last_snapshot: str | None
    last_check_exit: int | None
    last_db_run: int | None
    last_db_exit: int | None
    next_run: int | None
    failed_step: str | None

    @property
    def failed(self) -> bool:
        return bool(self.last_exit) or bool(self.last_db_exit) or bool(self.last_check_exit)


def parse_state(text: str) -> ScheduleState:
    """Strict: a file of another format version, or cut off, is no state (ValueError)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg})") from None
    if not isinstance(data, dict) or data.get("format_version") != STATE_FORMAT_VERSION:
        raise ValueError(f"format_version is not {STATE_FORMAT_VERSION}")

    def number(key: str) -> int | None:
        value = data.get(key)
        if value in (None, ""):
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} is not a whole number")
        return value

    def word(key: str) -> str | None:
        value = data.get(key)
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", value):
            raise ValueError(f"{key} is not a plain word")
        return value

    return ScheduleState(number("last_run"), number("last_exit"), number("last_size"),
                         number("last_added"), word("last_snapshot"), number("last_check_exit"),
                         number("last_db_run"), number("last_db_exit"), number("next_run"),
                         word("failed_step"))


def with_next_run(state: ScheduleState, schedule: str, now: float) -> ScheduleState:
    """A cron schedule's next pass, which its service leaves to tr4ctl (null in its state)."""
    from dataclasses import replace

    times = parse_schedule(schedule)
    if state.next_run is not None or isinstance(times, int):
        return state
    moment = times.next_after(datetime.fromtimestamp(now, UTC))
    return replace(state, next_run=int(moment.timestamp()))


def describe_state(state: ScheduleState | None, now: float) -> tuple[str, str]:
    """(verdict, words): verdict ok, failed, pending (no pass yet) or unknown."""
    if state is None:
        return "unknown", "the backup-schedule service wrote no state (is it running?)"
    if state.last_run is None:
        return "pending", "no scheduled pass has finished yet"
    ago = int(now - state.last_run)
    size = f"{state.last_size / 1e6:.1f} MB" if state.last_size is not None else "size unknown"
    if state.failed:
        step = state.failed_step or "the pass"
        return "failed", f"last pass {ago}s ago FAILED at {step} (docker logs of backup-schedule)"
    db = f", database copied {int(now - state.last_db_run)}s ago" if state.last_db_run else ""
    return "ok", f"last pass {ago}s ago, snapshot {state.last_snapshot or '?'}, {size}{db}"


# Where the service keeps its state and its copies (inside its container: a recreated
# service starts its account afresh, as certbot-renew's does).
STATE_DIR = "/tmp/tr4ctl-backup"
STATE_FILE = f"{STATE_DIR}/state.json"
RESTIC_WRAPPER = f"{STATE_DIR}/restic"
PASSWORD_IN_CONTAINER = "/run/tr4ctl/restic-password"
SSH_KEY_IN_CONTAINER = "/run/tr4ctl/backup-ssh-key"
KNOWN_HOSTS_IN_CONTAINER = "/run/tr4ctl/backup-known-hosts"
S3_CREDENTIALS_IN_CONTAINER = "/run/tr4ctl/backup-s3-credentials"
# The service's files, by their key in the stack file. On compose each is bind-mounted
# from its path on this machine; on a swarm a task may run where no such path exists,
# so each is a swarm secret (named after its content: plan/stack.secret_names) at
# /run/secrets/<key>.
PASSWORD, SSH_KEY, KNOWN_HOSTS, S3_CREDENTIALS = (
    "restic_password", "backup_ssh_key", "backup_known_hosts", "backup_s3_credentials")
_BOUND_AT = {PASSWORD: PASSWORD_IN_CONTAINER, SSH_KEY: SSH_KEY_IN_CONTAINER,
             KNOWN_HOSTS: KNOWN_HOSTS_IN_CONTAINER, S3_CREDENTIALS: S3_CREDENTIALS_IN_CONTAINER}
SWARM_SECRETS_DIR = "/run/secrets"
BACKEND_DATA_IN_CONTAINER = "/volumes/backend_data"
CHROMA_DATA_IN_CONTAINER = "/volumes/chroma_data"
CERTBOT_CONF_IN_CONTAINER = "/volumes/certbot_conf"
# On PostgreSQL: the two services' shared folder (the backup_dumps volume). backup-schedule
# writes a request there, backup-dump answers it with one pg_dump of the backend's database
# (taken while it serves) and `<id> <exit code>`; the dump ships as database.pgdump.
DUMPS_IN_CONTAINER = "/volumes/backup_dumps"
POSTGRES_DUMP_FILE = POSTGRES_DUMP
# How long a pass waits for its dump before it counts as failed at the database step.
DUMP_WAIT_SECONDS = 600
# What a snapshot holds, by tag: "full" every volume a restore needs (the databases apart,
# copied online), "db" the databases alone.
WORK_DIR = f"{STATE_DIR}/work"
FULL_TAG, DB_TAG = "full", "db"
# What each scheduled check reads back of the uploaded data (random packs up to this
# size: all of a small repository, a bounded cost for a large one); `backup verify
# --offsite` reads all of it.
CHECK_SUBSET = "100M"
SERVICE = "backup-schedule"


def settings_problem(schedule: str | None, target: str | None, ssh_key: object,
                     known_hosts: object, s3_credentials: object) -> tuple[str, str] | None:
    """(problem, the setting that fixes it) when the backup settings do not fit together."""
    if not schedule:
        return None
    if not target:
        return ("TR4CTL_BACKUP_SCHEDULE is set but there is nowhere to copy to",
                "tr4ctl config set TR4CTL_BACKUP_TARGET sftp:user@host:/path")
    kind = parse_target(target).kind
    if kind == "sftp" and (ssh_key is None or known_hosts is None):
        return ("an sftp: target needs a key and the host's key",
                "tr4ctl config set TR4CTL_BACKUP_SSH_KEY /path/key (and TR4CTL_BACKUP_SSH_KNOWN_HOSTS)")
    if kind == "s3" and s3_credentials is None:
        return ("an s3: target needs credentials",
                "tr4ctl config set TR4CTL_BACKUP_S3_CREDENTIALS /path/credentials")
    return None


def service_files(target: str, password_file: str, ssh_key: str | None,
                  known_hosts: str | None, s3_credentials: str | None) -> dict[str, str]:
    """The files the service reads, key -> path on this machine: the restic key and the
    target's credentials (the password first: the order they are rendered in)."""
    files = {PASSWORD: password_file}
    kind = parse_target(target).kind
    if kind == "sftp" and ssh_key and known_hosts:
        files |= {SSH_KEY: ssh_key, KNOWN_HOSTS: known_hosts}
    if kind == "s3" and s3_credentials:
        files[S3_CREDENTIALS] = s3_credentials
    return files


def file_in_container(key: str, *, swarm: bool) -> str:
    return f"{SWARM_SECRETS_DIR}/{key}" if swarm else _BOUND_AT[key]


def lock_hostname(project: str) -> str:
    """The service's hostname, in every container of it: the project's, so that projects
    sharing a repository never take each other's locks for their own."""
    name = f"{project}-backup"
    if len(name) <= 63:  # a hostname's limit
        return name
    return f"{project[:45]}-{zlib.crc32(project.encode()):08x}-backup"


def service_values(schedule: str, keep: str, target: str, files: dict[str, str],
                   backend_uid: int, postgres_database: str | None = None, *,
                   project: str, swarm: bool = False) -> dict[str, object]:
    """What the compose template's backup-schedule service needs (and on PostgreSQL,
    `postgres_database` set, its backup-dump service). `files`: service_files'."""
    parsed = parse_target(target)
    when = parse_schedule(schedule)

    def inside(key: str) -> str:
        return file_in_container(key, swarm=swarm)

    command = sftp_command(parsed, inside(SSH_KEY), inside(KNOWN_HOSTS)) \
        if SSH_KEY in files else None
    return {
        "interval_seconds": when if isinstance(when, int) else None,
        "cron": None if isinstance(when, int) else when,
        "db_interval_seconds": DB_INTERVAL_SECONDS,
        "keep_flags": keep_flags(keep),
        "repository": parsed.repository,
        "lock_hostname": lock_hostname(project),
        "sftp_command": command,
        "s3_credentials": inside(S3_CREDENTIALS) if parsed.kind == "s3" else None,
        "password_in_container": inside(PASSWORD),
        # (key, path on this machine, path in the container)
        "files": [(key, source, inside(key)) for key, source in files.items()],
        "state_dir": STATE_DIR,
        "state_file": STATE_FILE,
        "restic_wrapper": RESTIC_WRAPPER,
        "state_format_version": STATE_FORMAT_VERSION,
        "check_subset": CHECK_SUBSET,
        "backend_data": BACKEND_DATA_IN_CONTAINER,
        "chroma_data": CHROMA_DATA_IN_CONTAINER,
        "certbot_conf": CERTBOT_CONF_IN_CONTAINER,
        "backend_uid": backend_uid,
        "postgres_database": postgres_database,
        "dumps_dir": DUMPS_IN_CONTAINER,
        "dump_file": POSTGRES_DUMP_FILE,
        "dump_wait_seconds": DUMP_WAIT_SECONDS,
    }


# -- restoring from the target (`backup restore --from`) --------------------------------
RESTORE_OUT = "/restore"


@dataclass(frozen=True)
class ResticRun:
    """A one-off restic container: its command, host mounts and the environment keys
    whose values travel in the runner's environment (never argv)."""

    command: list[str]
    mounts: dict[str, str]
    env_keys: tuple[str, ...]


def restic_run(target: Target, restic_args: list[str], *, password_file: str,
               ssh_key: str | None, known_hosts: str | None, out_dir: str | None) -> ResticRun:
    mounts = {password_file: f"{PASSWORD_IN_CONTAINER}:ro"}
    options: list[str] = []
    if target.kind == "sftp" and ssh_key and known_hosts:
        mounts[ssh_key] = f"{SSH_KEY_IN_CONTAINER}:ro"
        mounts[known_hosts] = f"{KNOWN_HOSTS_IN_CONTAINER}:ro"
        options = ["-o", "sftp.command=" + sftp_command(target, SSH_KEY_IN_CONTAINER,
                                                       KNOWN_HOSTS_IN_CONTAINER)]
    if out_dir:
        mounts[out_dir] = RESTORE_OUT
    env_keys = ("RESTIC_REPOSITORY", "RESTIC_PASSWORD_FILE",
                *(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if target.kind == "s3" else ()))
    return ResticRun(["restic", "--no-cache", *options, *restic_args], mounts, env_keys)


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: str
    tags: tuple[str, ...]


def parse_snapshots(text: str, host: str) -> list[Snapshot]:
    """`restic snapshots --json` -> this project's snapshots, oldest first (strict)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("restic's snapshot list is not JSON") from None
    if not isinstance(data, list):
        raise ValueError("restic's snapshot list is not a list")
    found = []
    for item in data:
        if not isinstance(item, dict) or item.get("hostname") != host:
            continue
        sid, when, tags = item.get("id"), item.get("time"), item.get("tags") or []
        if not (isinstance(sid, str) and re.fullmatch(r"[0-9a-f]{64}", sid)
                and isinstance(when, str) and all(isinstance(t, str) for t in tags)):
            raise ValueError("restic's snapshot list holds an entry that is not a snapshot")
        found.append(Snapshot(sid, when, tuple(tags)))
    return sorted(found, key=lambda s: s.time)


def choose_snapshots(snapshots: list[Snapshot], wanted: str | None
                     ) -> tuple[Snapshot, Snapshot | None]:
    """(the full snapshot, a newer database-only one to lay over it or None). A named
    snapshot (an id or its prefix) is taken as it is, without a newer database."""
    full = [s for s in snapshots if FULL_TAG in s.tags]
    if wanted is not None:
        chosen = [s for s in full if s.id.startswith(wanted.lower())]
        if len(chosen) != 1:
            raise ValueError(f"no single full snapshot {wanted!r} at the target"
                             if not chosen else f"{wanted!r} names more than one snapshot")
        return chosen[0], None
    if not full:
        raise ValueError("the target holds no full snapshot of this project yet")
    newer_db = [s for s in snapshots if DB_TAG in s.tags and s.time > full[-1].time]
    return full[-1], newer_db[-1] if newer_db else None
