"""What a command line becomes when TR4CTL_HOST is set. Pure: takes the argv, the
workstation's settings and what the terminal is, returns what runs on the host (the
remote argv, its environment, a pty or not) and which local files cross, each way.

The whole command line runs on the host, in the host's tr4ctl at the same version
(README "Remote hosts"): the workstation only forwards it. Local paths in it are the
exception: a file the command reads is uploaded into a private temporary folder on the
host first, a file it writes is written there and downloaded after.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence

from tr4ctl.config.workstation import WORKSTATION_KEYS
from tr4ctl.plan.ssh_target import parse_target
from tr4ctl.session_env import (
    EXPECT_VERSION,
    REMOTE_ADDRESS,
    REMOTE_SESSION,
    WORKSTATION_TERMINAL,
)

# Global options: those taking a value, the workstation's own (never sent), the rest.
_VALUE_GLOBALS = ("--project-dir", "--project-name", "--host")
_LOCAL_GLOBALS = ("--host", "--project-dir", "--accept-host-key")


# Immutable records as named tuples, not dataclasses: this module is on a forwarded
# command's start, and `dataclasses` (with `inspect`) costs it about 12 ms.
class TempPath(namedtuple("TempPath", "name")):
    """A file in the call's private folder on the host (known once it is made)."""
    __slots__ = ()


class Crossing(namedtuple("Crossing", "local remote replaces_report", defaults=(False,))):
    """A local file (str) and its TempPath on the host. replaces_report: a download that
    may replace a local file tr4ctl wrote before (a report), as the command itself would;
    any other existing file is refused before the call."""
    __slots__ = ()


class RemoteCall(namedtuple("RemoteCall", "target argv environment tty uploads downloads "
                            "accept_host_key", defaults=((), (), False))):
    """target: SshTarget; argv: str and TempPath words; environment: for the host's
    command; tty: ssh -tt; uploads, downloads: Crossings."""
    __slots__ = ()

    @property
    def needs_temp(self) -> bool:
        return bool(self.uploads or self.downloads)

    def remote_argv(self, temp_dir: str | None = None) -> list[str]:
        """The argv with each TempPath placed in `temp_dir` (the folder made on the host)."""
        if self.needs_temp and not temp_dir:
            raise ValueError("this call needs its temporary folder on the host")
        return [f"{temp_dir}/{word.name}" if isinstance(word, TempPath) else word
                for word in self.argv]


class Workstation(namedtuple("Workstation", "host host_dir accept_host_key",
                             defaults=(False,))):
    """TR4CTL_HOST and the rest as this machine's settings give them (--host wins)."""
    __slots__ = ()


class Terminal(namedtuple("Terminal", "stdin_tty stdout_tty columns term no_color",
                          defaults=(None, None, False))):
    __slots__ = ()


class _Words:
    def __init__(self) -> None:
        self.globals_: list[str] = []
        self.command: list[str] = []
        self.host: str | None = None
        self.project_dir: str | None = None
        self.accept_host_key = False


def split_globals(argv: Sequence[str]) -> _Words:
    """The global options before the command, and the command with its own words."""
    words = _Words()
    items = list(argv)
    i = 0
    while i < len(items):
        arg = items[i]
        name, eq, inline = arg.partition("=")
        if not arg.startswith("-") or arg == "-":
            words.command = items[i:]
            break
        if name in _VALUE_GLOBALS:
            value = inline if eq else (items[i + 1] if i + 1 < len(items) else "")
            i += 1 if eq else 2
            if name == "--host":
                words.host = value
            elif name == "--project-dir":
                words.project_dir = value
            else:
                words.globals_ += [name, value]
            continue
        if arg == "--accept-host-key":
            words.accept_host_key = True
        else:
            words.globals_.append(arg)
        i += 1
    return words


def tr4ctl_words(argv: Sequence[str]) -> list[str]:
    """The words tr4ctl reads itself: those before `--` (`exec backend -- cmd --help`
    asks the command for its help, not tr4ctl)."""
    words = list(argv)
    return words[:words.index("--")] if "--" in words else words


def host_option(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """(--host, --project-dir) as given before the command, for reading the settings."""
    words = split_globals(argv)
    return words.host, words.project_dir


def runs_here(argv: Sequence[str]) -> bool:
    """Commands that stay on the workstation whatever TR4CTL_HOST says: help, the
    version, no command, `config set` of the workstation's own keys, and the commands
    that reach the host themselves (`host ...`, `images ship`)."""
    words = split_globals(argv)
    if not words.command or "--version" in words.globals_:
        return True
    if words.command[:1] == ["host"] or words.command[:2] == ["images", "ship"]:
        return True
    if any(arg in ("--help", "-h") for arg in tr4ctl_words(argv)):
        return True
    if words.command[:2] == ["config", "set"]:
        keys = [a.partition("=")[0] for a in words.command[2:] if not a.startswith("-")]
        return bool(keys) and all(k in WORKSTATION_KEYS for k in keys)
    return False


def mixed_config_set(argv: Sequence[str]) -> bool:
    """`config set` of workstation keys and host keys at once (refused: two places)."""
    command = split_globals(argv).command
    if command[:2] != ["config", "set"]:
        return False
    keys = {a.partition("=")[0] for a in command[2:] if not a.startswith("-")}
    return bool(keys & set(WORKSTATION_KEYS)) and bool(keys - set(WORKSTATION_KEYS))


def plan_remote_call(argv: Sequence[str], workstation: Workstation, terminal: Terminal, *,
                     version: str, remote_tr4ctl: str,
                     is_local_file: Callable[[str], bool]) -> RemoteCall:
    """The call on the host for `argv` (the workstation's host must be set: ValueError
    names the problem of a bad address)."""
    if not workstation.host:
        raise ValueError("no host set")
    target = parse_target(workstation.host)
    words = split_globals(argv)
    command, uploads, downloads = _local_files(words.command, is_local_file)
    json_mode = "--json" in words.globals_ or "--json" in tr4ctl_words(words.command)
    tty = (terminal.stdin_tty and terminal.stdout_tty and not json_mode
           and may_prompt(words.command))
    environment = {REMOTE_SESSION: "1", EXPECT_VERSION: version,
                   REMOTE_ADDRESS: str(target)}
    if terminal.columns:
        environment["COLUMNS"] = str(terminal.columns)
    if terminal.stdout_tty and not json_mode:
        environment["TERM"] = terminal.term or "xterm-256color"
        if not tty:
            environment[WORKSTATION_TERMINAL] = "1"
        if not terminal.no_color:
            environment["FORCE_COLOR"] = "1"
    if terminal.no_color:
        environment["NO_COLOR"] = "1"
    return RemoteCall(
        target=target,
        argv=(remote_tr4ctl, "--project-dir", workstation.host_dir, *words.globals_,
              *command),
        environment=environment, tty=tty, uploads=tuple(uploads),
        downloads=tuple(downloads),
        accept_host_key=workstation.accept_host_key or words.accept_host_key)


def may_prompt(command: Sequence[str]) -> bool:
    """The command may ask on the terminal (a hidden password, a confirmation), show
    generated passwords there, or is `exec`'s program: only these get a pty (`ssh -tt`). Any other command runs
    on pipes, whose closing the host's watchdog always sees (remote/session.py); a pty
    session's hang-up can be held back by sudo's own pty."""
    command = list(command)
    if command[:1] == ["exec"]:
        return True  # a shell or a program of the operator's: a terminal when there is one
    command = tr4ctl_words(command)
    if command[:2] == ["users", "seed"]:
        prints_here = "--generate" in command and not any(
            arg == "--output" or arg.startswith("--output=") for arg in command)
        return prints_here or not ("--password-stdin" in command or "--generate" in command)
    if command[:2] == ["backup", "restore"]:
        return "--yes" not in command
    return False


# Options naming a local file the command reads, or writes, by command.
_READS = {("users", "seed"): ("--file",), ("backup", "restore"): ("--key-file",)}
_WRITES = {("users", "seed"): ("--output",), ("report",): ("--output", "-o")}
# A file the command writes even when no option names it: it comes down under that name.
_DEFAULT_WRITES = {("report",): ("--output", "tr4ctl-report.html")}
# Commands whose first argument is an archive: a local file crosses, a host path stays.
_ARCHIVE_ARGUMENT = {("backup", "restore"): ("--timeout", "--as-project", "--safety-dir",
                                             "--dir", "--from"),
                     ("backup", "verify"): ()}


def _command_key(command: list[str]) -> tuple[str, ...]:
    pair = tuple(command[:2])
    return pair if pair in {*_READS, *_WRITES, *_ARCHIVE_ARGUMENT} else tuple(command[:1])


def _local_files(command: list[str], is_local_file: Callable[[str], bool]
                 ) -> tuple[list[str | TempPath], list[Crossing], list[Crossing]]:
    key = _command_key(command)
    reads, writes = _READS.get(key, ()), _WRITES.get(key, ())
    value_options = _ARCHIVE_ARGUMENT.get(key)
    replaces_report = key == ("report",)
    out: list[str | TempPath] = list(command[:len(key)])
    uploads: list[Crossing] = []
    downloads: list[Crossing] = []
    rest = command[len(key):]
    i = 0
    # With --from the argument is a snapshot at the target, never a local archive.
    positional_seen = any(word == "--from" or word.startswith("--from=") for word in rest)
    while i < len(rest):
        arg = rest[i]
        name, eq, inline = arg.partition("=")
        if name in reads or name in writes:
            value = inline if eq else (rest[i + 1] if i + 1 < len(rest) else None)
            if value is None:  # the host's tr4ctl names the missing value
                out.append(arg)
                break
            temp = TempPath(f"{len(uploads) + len(downloads)}-{_basename(value)}")
            if name in reads:
                uploads.append(Crossing(value, temp))
            else:
                downloads.append(Crossing(value, temp, replaces_report))
            out += [name, temp]
            i += 1 if eq else 2
            continue
        if value_options is not None and name in value_options and not eq:
            out += rest[i:i + 2]
            i += 2
            continue
        if (value_options is not None and not positional_seen and not arg.startswith("-")):
            positional_seen = True
            if is_local_file(arg):
                temp = TempPath(f"{len(uploads)}-{_basename(arg)}")
                uploads.append(Crossing(arg, temp))
                out.append(temp)
                i += 1
                continue
        out.append(arg)
        i += 1
    if key in _DEFAULT_WRITES and not downloads and not _asks_help(rest):
        option, local = _DEFAULT_WRITES[key]
        temp = TempPath(f"{len(uploads)}-{_basename(local)}")
        downloads.append(Crossing(local, temp, replaces_report))
        out += [option, temp]
    return out, uploads, downloads


def _asks_help(words: Sequence[str]) -> bool:
    return any(word in ("--help", "-h") for word in words)


def _basename(path: str) -> str:
    """A plain name for the file in the temporary folder (the suffix kept: the archive
    reader looks at it)."""
    base = path.rstrip("/").rsplit("/", 1)[-1] or "file"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:80]


# -- images the host lacks, offered from this workstation before the command ---------------
# `up` starts the stack's images, `deploy --image X` X: the host may have no registry.
SHIPPING_COMMANDS = ("up", "deploy")
BACKEND_BASE_ROLE = "backend base"


def offers_images(argv: Sequence[str]) -> bool:
    command = split_globals(argv).command
    return (bool(command) and command[0] in SHIPPING_COMMANDS
            and not _asks_help(tr4ctl_words(command)))


def images_the_host_lacks(listed: Sequence[Mapping], argv: Sequence[str]) -> list[str]:
    """From the host's `images list --json` rows ({role, image, present}): what it lacks
    (the backend's base only when the backend itself must be built there), and the image
    `deploy --image X` names."""
    rows = [row for row in listed if isinstance(row, Mapping)]
    backend_missing = any(row.get("role") == "backend" and not row.get("present")
                          for row in rows)
    wanted = [str(row["image"]) for row in rows if not row.get("present") and row.get("image")
              and (row.get("role") != BACKEND_BASE_ROLE or backend_missing)]
    command = list(split_globals(argv).command)
    for i, arg in enumerate(command):
        if arg == "--image" and i + 1 < len(command):
            wanted.append(command[i + 1])
        elif arg.startswith("--image="):
            wanted.append(arg.partition("=")[2])
    return list(dict.fromkeys(wanted))
