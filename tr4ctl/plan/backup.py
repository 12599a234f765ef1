"""Backups as data: what an archive holds, how it is named, whether it can be trusted,
what to prune, and how much room a backup needs.

Pure: nothing here reads an archive, a volume or the clock. The actions feed it what
they observed (a manifest's text, the sha256 of each member, file names, free bytes)
and it returns verdicts.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tr4ctl.config.keys import KEYS
from tr4ctl.config.values import PROJECT_NAME, control_character
from tr4ctl.facts import BACKEND_DATA_DIR, POSTGRES_DUMP
from tr4ctl.plan.archive_members import shown

FORMAT = "tr4ctl-backup"
# Bump on any change a older tr4ctl could not restore correctly; it then refuses.
# 2: the manifest says its scope (a full backup, or the database alone, taken before a
# deploy). A version-1 archive is a full one and restores as before.
FORMAT_VERSION = 2
SCOPE_FULL = "full"
SCOPE_DATABASE = "database"
MANIFEST_NAME = "manifest.json"
ARCHIVE_SUFFIX = ".tar.gz"

KIND_BACKUP = "backup"  # made by `backup create`; pruned by --keep
KIND_SAFETY = "safety"  # made by `backup restore` before it changes anything; never pruned
KIND_DEPLOY = "deploy"  # the database alone, taken by `deploy` just before a new release

# Inside the backend container the data volume is mounted here (compose template).
BACKEND_DATA_MOUNT = BACKEND_DATA_DIR
# SQLite's files next to a database: never copied raw (the online backup replaces them).
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")

# The volumes a backup carries, in archive (and restore) order. backend_data comes
# before the database copy: restoring clears the volume, then writes the database in.
VOLUME_PARTS = ("backend_data", "chroma_data", "certbot_conf")
NOT_INCLUDED = {
    "backend_logs": "logs, not state",
    "nginx_logs": "logs, not state",
    "certbot_www": "transient ACME challenge files",
    "backup_dumps": "the backup schedule's last pg_dump (an archive takes its own)",
}
# Services that write a volume while they run: stopped for the moment it is copied.
# Chroma keeps its SQLite and its HNSW index files in step only across a clean stop
# (a paused or live copy can catch an index file half written). certbot_conf is copied
# live: certbot-renew writes it only during a renewal pass (seconds, twice a day), and
# stopping it could kill a renewal half way, which is worse than the tiny window.
VOLUME_WRITERS = {
    "chroma_data": ("chroma",),
}
# While its writers are stopped, such a volume is copied inside the engine into a volume
# of this name (disk to disk: seconds for a gigabyte), and archived from there once they
# run again: the pause is the disk copy, not the archive's write.
COPY_SUFFIX = "-backup-copy"


def copy_volume_key(key: str) -> str:
    return f"{key}{COPY_SUFFIX}"
WHAT = {
    "backend_data": "backend data volume (uploads, knowledge, templates), without the "
                    "live SQLite files",
    "database": "SQLite database, copied with SQLite's online backup API (one consistent "
                "snapshot, the backend keeps serving), integrity-checked",
    "chroma_data": "Chroma store, copied while Chroma was stopped (a clean shutdown "
                   "leaves its SQLite and index files consistent)",
    "certbot_conf": "certbot configuration: certificates, keys, ACME account",
    "env": "the project's .env (secrets: the archive is 0600)",
    "postgres": "PostgreSQL database, dumped with pg_dump (one consistent snapshot, the "
                "backend keeps serving), restored with pg_restore",
}

DATABASE_PART = "database.sqlite3"
# On PostgreSQL: pg_dump's custom format, one consistent snapshot taken while serving.
POSTGRES_PART = POSTGRES_DUMP
ENV_PART = "env"
NAME_PATTERN = re.compile(
    r"^(?P<project>[a-z0-9][a-z0-9_-]*)-(?P<kind>backup|safety|deploy)-"
    r"(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<seq>\d+))?\.tar\.gz$"
)
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
KINDS = (KIND_BACKUP, KIND_SAFETY, KIND_DEPLOY)
# A .env is a few KiB: an env part larger than this is not one tr4ctl wrote.
MAX_ENV_BYTES = 1 << 20
# Headroom on top of the estimate: tar headers, the manifest, the file system's own.
SPACE_MARGIN_BYTES = 1 << 20


class ManifestError(ValueError):
    """The manifest cannot be read as a tr4ctl backup manifest."""


@dataclass
class Part:
    """One member of the archive (or, when absent, a volume that did not exist)."""

    name: str  # member name in the archive
    kind: str  # volume, sqlite, env_file
    what: str
    volume: str | None = None  # volume key (backend_data, ...), for volume and sqlite parts
    size: int = 0
    sha256: str | None = None
    absent: bool = False  # the volume did not exist: restoring it means emptying it
    path_in_volume: str | None = None  # sqlite: where the database lives in its volume
    owner: str | None = None  # sqlite: uid:gid of the database file
    mode: str | None = None  # sqlite: octal permissions of the database file
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest:
    kind: str
    project: str
    created_at: str
    tr4ctl_version: str
    env: str | None
    parts: list[Part]
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    not_included: dict[str, str] = field(default_factory=lambda: dict(NOT_INCLUDED))
    scope: str = SCOPE_FULL

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)

    @property
    def members(self) -> list[Part]:
        """The parts stored in the archive, in archive order."""
        return [p for p in self.parts if not p.absent]


def volume_part_name(volume: str) -> str:
    return f"{volume}.tar"


def parse_manifest(text: str | bytes) -> Manifest:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ManifestError("the manifest is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ManifestError("not a tr4ctl backup manifest")
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ManifestError("the manifest has no valid format_version")
    if version > FORMAT_VERSION:
        # Newer formats may change anything else: return what is needed to say so.
        return Manifest(kind=str(data.get("kind")), project=str(data.get("project")),
                        created_at=str(data.get("created_at")),
                        tr4ctl_version=str(data.get("tr4ctl_version")), env=None, parts=[],
                        format_version=version)
    try:
        parts = [Part(**part) for part in data["parts"]]
        return Manifest(
            kind=data["kind"], project=data["project"], created_at=data["created_at"],
            tr4ctl_version=data["tr4ctl_version"], env=data.get("env"), parts=parts,
            format_version=version, not_included=data.get("not_included", {}),
            scope=data.get("scope", SCOPE_FULL) if version >= 2 else SCOPE_FULL,
        )
    except KeyError as exc:
        raise ManifestError(f"the manifest lacks {exc}") from None
    except TypeError:
        raise ManifestError("the manifest has parts this tr4ctl does not know") from None


def newer_format_problem(manifest: Manifest) -> str | None:
    if manifest.format_version > FORMAT_VERSION:
        return (f"the archive has format version {manifest.format_version}, made by tr4ctl "
                f"{manifest.tr4ctl_version}; this tr4ctl reads up to version {FORMAT_VERSION}")
    return None


# -- verification ----------------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """A member as read from the archive."""

    name: str
    size: int
    sha256: str


def verify_members(manifest: Manifest, observed: list[Observed]) -> list[str]:
    """Problems, one line each, between what the manifest promises and what was read.
    Empty means every part is there, in order, with its size and sha256."""
    problems: list[str] = []
    expected = manifest.members
    seen = {o.name: o for o in observed}
    for part in expected:
        got = seen.get(part.name)
        if got is None:
            problems.append(f"{part.name}: missing from the archive")
        elif got.size != part.size:
            problems.append(f"{part.name}: {got.size} bytes, the manifest says {part.size}")
        elif got.sha256 != part.sha256:
            problems.append(f"{part.name}: sha256 differs from the manifest")
    for name in seen.keys() - {p.name for p in expected}:
        problems.append(f"{name}: not in the manifest")
    if not problems and [o.name for o in observed] != [p.name for p in expected]:
        problems.append("the parts are not in the manifest's order")
    return problems


def structure_problems(manifest: Manifest) -> list[str]:
    """What a restore needs from a (current-format) manifest, beyond intact bytes."""
    problems = []
    names = [p.name for p in manifest.parts]
    if len(set(names)) != len(names):
        problems.append("the manifest names a part twice")
    if manifest.scope not in (SCOPE_FULL, SCOPE_DATABASE):
        problems.append(f"the manifest has an unknown scope {manifest.scope!r}")
    if manifest.scope == SCOPE_DATABASE:
        database = manifest.part(DATABASE_PART) or manifest.part(POSTGRES_PART)
        if database is None or database.absent:
            problems.append("the archive holds no database")
        elif database.kind == "sqlite" and (not database.path_in_volume or
                                            not safe_relative_path(database.path_in_volume)):
            problems.append("the database's path in its volume is missing or unsafe")
        return problems
    for volume in VOLUME_PARTS:
        part = manifest.part(volume_part_name(volume))
        if part is None or part.kind != "volume" or part.volume != volume:
            problems.append(f"the manifest has no entry for the {volume} volume")
    env = manifest.part(ENV_PART)
    # A safety backup of a project that had no .env yet records it as absent.
    if env is None or (env.absent and manifest.kind != KIND_SAFETY):
        problems.append("the archive holds no .env")
    database = manifest.part(DATABASE_PART)
    if database is not None and not database.absent:
        if not database.path_in_volume or not safe_relative_path(database.path_in_volume):
            problems.append("the database's path in its volume is missing or unsafe")
        members = [p.name for p in manifest.members]
        data = volume_part_name("backend_data")
        if data in members and members.index(data) > members.index(DATABASE_PART):
            problems.append("the database comes before its volume in the archive")
    return problems


# -- an archive is data: what its manifest may say ---------------------------------------
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OWNER = re.compile(r"^[0-9]{1,10}:[0-9]{1,10}$")
_MODE = re.compile(r"^[0-7]{3,4}$")
_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")
SYSTEM_DATABASES = ("postgres", "template0", "template1")


def _known_shape(part: Part) -> bool:
    """The parts tr4ctl writes: which volume a restore writes or empties, and where a
    database goes, are never the archive's choice."""
    if part.kind == "volume":
        return part.volume in VOLUME_PARTS and part.name == volume_part_name(part.volume)
    if part.kind == "sqlite":
        return part.name == DATABASE_PART and part.volume == "backend_data"
    if part.kind == "env_file":
        return part.name == ENV_PART and part.volume is None
    if part.kind == "postgres":
        return part.name == POSTGRES_PART and part.volume is None
    return False


def manifest_problems(manifest: Manifest) -> list[str]:
    """What no manifest tr4ctl writes says: a project name compose would refuse, a part
    of another shape, a field of the wrong type or with a control character, an
    owner, mode or database name a restore would pass on. Checked before any member is
    read; each one refuses the archive (exit 2)."""
    problems: list[str] = []
    top = {"kind": manifest.kind, "project": manifest.project,
           "created_at": manifest.created_at, "tr4ctl_version": manifest.tr4ctl_version,
           "env": manifest.env, "scope": manifest.scope}
    for key, value in top.items():
        if value is not None and (not isinstance(value, str) or control_character(value)):
            problems.append(f"the manifest's {key} is not plain text")
    if problems:
        return problems
    if not PROJECT_NAME.match(manifest.project):
        problems.append("the manifest's project is not a project name")
    if manifest.kind not in KINDS:
        problems.append("the manifest's kind is not one tr4ctl writes")
    for index, part in enumerate(manifest.parts):
        texts = (part.name, part.kind, part.what, part.volume, part.path_in_volume, part.owner,
                 part.mode)
        if any(t is not None and (not isinstance(t, str) or control_character(t))
               for t in texts) or not isinstance(part.details, dict):
            problems.append(f"part {index + 1} of the manifest is not plain text")
            continue
        label = f"the manifest's part {part.name}"
        if not _known_shape(part):
            problems.append(f"{label} is not one tr4ctl writes (kind {part.kind}, volume "
                            f"{part.volume})")
            continue
        if not isinstance(part.absent, bool):
            problems.append(f"{label} has no valid 'absent'")
            continue
        if part.absent:
            continue
        if not isinstance(part.size, int) or isinstance(part.size, bool) or part.size < 0:
            problems.append(f"{label} has no valid size")
        elif part.kind == "env_file" and part.size > MAX_ENV_BYTES:
            problems.append(f"{label} is {part.size} bytes: not a .env")
        if not isinstance(part.sha256, str) or not _SHA256.match(part.sha256):
            problems.append(f"{label} has no valid sha256")
        if part.kind == "sqlite":
            if part.owner is not None and not _OWNER.match(part.owner):
                problems.append(f"{label} has an owner that is not uid:gid")
            if part.mode is not None and not _MODE.match(part.mode):
                problems.append(f"{label} has a mode that is not octal permissions")
        if part.kind == "postgres":
            database = part.details.get("database")
            if database is not None and (not isinstance(database, str)
                                         or not _DATABASE_NAME.match(database)
                                         or database in SYSTEM_DATABASES):
                problems.append(f"{label} names a database a restore must not replace")
    return problems


def env_project_problem(manifest: Manifest, env_values: dict[str, str | None]) -> str | None:
    """An env part naming another project than its manifest: refused, whatever the
    restore would do with it (it never takes a project name from an archive)."""
    named = env_values.get(PROJECT_NAME_KEY)
    if named and named != manifest.project:
        return (f"the archive's .env names project {shown(named)}, its manifest project "
                f"{manifest.project}")
    return None


# -- the .env a restore writes ------------------------------------------------------------
PROJECT_NAME_KEY = "TR4CTL_PROJECT_NAME"
DEFAULT_PROJECT = KEYS[PROJECT_NAME_KEY].default
# Never taken from an archive's .env: the project's identity (its containers, volumes
# and network are named after it) and paths on this host (a templates folder would
# let an archive choose what runs, and how; a CA bundle what is trusted or mounted;
# the backup folder where secrets are written). The folder's own values stay (or none).
FOLDER_SETTINGS = (PROJECT_NAME_KEY, "TR4CTL_TEMPLATES_DIR", "TR4CTL_CA_BUNDLE",
                   "TR4CTL_ACME_CA_BUNDLE", "TR4CTL_BACKUP_DIR", "TR4CTL_PROJECT_DIR",
                   "TR4CTL_CACHE_DIR")
# Where this folder's stack runs and listens: a folder with a .env keeps its own; one
# with none yet (a restore onto a new host) takes the archive's, which cannot name
# another project (see FOLDER_SETTINGS).
PLACEMENT_SETTINGS = ("TR4CTL_BIND_ADDRESS", "TR4CTL_HTTP_PORT", "TR4CTL_HTTPS_PORT",
                      "TR4CTL_TARGET")


@dataclass(frozen=True)
class EnvRewrite:
    """How the archive's .env is changed before it is written into the folder."""

    set: dict[str, str]
    unset: tuple[str, ...]
    not_taken: dict[str, str]  # the archive's values this restore did not take

    @property
    def changes(self) -> bool:
        return bool(self.set or self.unset)


def env_rewrite(archive: dict[str, str | None], current: dict[str, str | None] | None,
                project: str) -> EnvRewrite:
    """The archive's .env values, the target folder's (`current`, None when it has no
    .env) and the project the restore acts on -> what to change in the archive's .env
    so it keeps the folder's identity. Nothing when they already agree (the bytes of a
    same-project restore stay the archive's)."""
    changes: dict[str, str] = {}
    unset: list[str] = []
    not_taken: dict[str, str] = {}
    given = archive.get(PROJECT_NAME_KEY) or None
    if (given or DEFAULT_PROJECT) != project:
        changes[PROJECT_NAME_KEY] = project
        if given:
            not_taken[PROJECT_NAME_KEY] = given
    keys = [k for k in FOLDER_SETTINGS if k != PROJECT_NAME_KEY]
    if current is not None:
        keys += PLACEMENT_SETTINGS
    for key in keys:
        theirs = archive.get(key) or None
        ours = (current or {}).get(key) or None
        if theirs == ours:
            continue
        if ours is None:
            unset.append(key)
        else:
            changes[key] = ours
        if theirs is not None:
            not_taken[key] = theirs
    return EnvRewrite(changes, tuple(unset), not_taken)


def safe_relative_path(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def database_path_in_volume(database_path: str, mount: str = BACKEND_DATA_MOUNT) -> str | None:
    """`/app/data/x/tr4ction.db` -> `x/tr4ction.db`; None when it is not on the volume."""
    prefix = mount.rstrip("/") + "/"
    if not database_path.startswith(prefix):
        return None
    relative = database_path[len(prefix):]
    return relative if safe_relative_path(relative) else None


def sqlite_exclusions(path_in_volume: str) -> list[str]:
    """tar --exclude patterns (members are ./-prefixed) for the live database files."""
    return [f"./{path_in_volume}{suffix}" for suffix in ("", *SQLITE_SIDECARS)]


# -- names and pruning -----------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveName:
    file_name: str
    project: str
    kind: str
    stamp: str
    seq: int

    @property
    def order(self) -> tuple[str, int]:
        return (self.stamp, self.seq)


def sqlite_part_on_postgres() -> Part:
    """The SQLite database's part of a stack on PostgreSQL: absent, pointing at the dump
    (`backup create` and `restore --from` write it the same)."""
    return Part(name=DATABASE_PART, kind="sqlite", what=WHAT["database"], volume="backend_data",
                absent=True, details={"note": "the backend's database is PostgreSQL: see "
                                              f"{POSTGRES_PART}"})


def archive_file_name(project: str, kind: str, when: datetime, taken: set[str]) -> str:
    """`<project>-<kind>-<UTC stamp>.tar.gz`, with -2, -3... when that second is taken."""
    stamp = when.astimezone(UTC).strftime(STAMP_FORMAT)
    name = f"{project}-{kind}-{stamp}{ARCHIVE_SUFFIX}"
    seq = 1
    while name in taken:
        seq += 1
        name = f"{project}-{kind}-{stamp}-{seq}{ARCHIVE_SUFFIX}"
    return name


def parse_archive_name(file_name: str) -> ArchiveName | None:
    match = NAME_PATTERN.match(file_name)
    if match is None:
        return None
    return ArchiveName(file_name, match["project"], match["kind"], match["stamp"],
                       int(match["seq"] or 1))


def archives_to_prune(file_names: list[str], project: str, keep: int) -> list[str]:
    """The older `backup create` archives of this project beyond the newest `keep`.
    Safety backups, other projects' archives and unknown files are never touched."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    ours = [n for n in (parse_archive_name(f) for f in file_names)
            if n is not None and n.project == project and n.kind == KIND_BACKUP]
    ours.sort(key=lambda n: n.order, reverse=True)
    return sorted(n.file_name for n in ours[keep:])


# -- space -----------------------------------------------------------------------------
def space_needed(estimated_bytes: int) -> int:
    """Bytes a backup of `estimated_bytes` of data needs free in its directory: the parts
    are staged there, then the archive is written next to them (at worst as large)."""
    return 2 * max(estimated_bytes, 0) + SPACE_MARGIN_BYTES


def space_problem(where: str, what: str, estimated_bytes: int, free_bytes: int) -> str | None:
    needed = space_needed(estimated_bytes)
    if free_bytes >= needed:
        return None
    return (f"not enough space in {where} for the {what}: it needs about "
            f"{human_bytes(needed)}, {human_bytes(free_bytes)} is free")


def human_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


# -- an interrupted restore ------------------------------------------------------------
@dataclass
class RestoreJournal:
    """Written before a restore changes anything and removed once every part is in place:
    while it exists the volumes may hold half old, half new data."""

    archive: str
    safety_backup: str | None
    started_at: str
    pid: int
    # The restore's --as-project (an archive of another project): running it again needs
    # it too, or the archive is refused.
    as_project: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def parse_journal(text: str) -> RestoreJournal | None:
    try:
        data = json.loads(text)
        return RestoreJournal(archive=str(data["archive"]),
                              safety_backup=data.get("safety_backup"),
                              started_at=str(data.get("started_at", "?")),
                              pid=int(data.get("pid", 0)),
                              as_project=data.get("as_project") or None)
    except (ValueError, KeyError, TypeError):
        return None


def interrupted_restore_message(journal: RestoreJournal | None) -> tuple[str, str]:
    """The one line and the hint every refusing command shows while a journal exists."""
    if journal is None:
        message = ("a restore was interrupted and its journal is unreadable: the data may be "
                   "half restored")
        return message, "re-run `tr4ctl backup restore ARCHIVE --yes` with the archive"
    message = (f"a restore of {journal.archive} was interrupted (started {journal.started_at}): "
               "the data may be half restored, so the stack is kept down")
    hint = f"finish it: `{restore_command(journal.archive, journal.as_project)}`"
    if journal.safety_backup:
        hint += f"; or go back: `{restore_command(journal.safety_backup)}`"
    return message, hint


def restore_command(archive: str, as_project: str | None = None) -> str:
    """The restore to run again, as it was given (quoted to copy as it is)."""
    extra = ["--as-project", as_project] if as_project else []
    return shlex.join(["tr4ctl", "backup", "restore", archive, "--yes", *extra])


def utc_now_text(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds")
