"""The one exception type commands raise, and the exit codes it maps to.

The rule (README, "Exit codes"), the same for every command:
0 done (or every check passed); 1 an operation or a check failed; 2 the request itself
is refused (bad input or usage, or unsafe as asked): nothing was changed; 3 something
the command needs is not there: no engine, no compose v2 plugin, no stack in this
project, or the stack or the service it needs is not running; 130 interrupted (Ctrl-C),
143 terminated (SIGTERM), each after the same clean-up.
"""

import errno


class ExitCode:
    """The codes, as plain ints (an IntEnum would import enum on a forwarded command's
    start: 3 ms of the target, bench/results/*-remote-*.json)."""

    OK = 0
    FAILED = 1  # an operation or a check failed
    BAD_INPUT = 2  # bad input or usage: nothing was changed
    PREREQUISITE = 3  # what the command needs is not there (engine, plugin, running stack)
    INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
    TERMINATED = 143  # 128 + SIGTERM (timeout, systemd, CI): the same clean-up as Ctrl-C


class Tr4ctlError(Exception):
    """An error for the operator: one line of what is wrong, one hint of what to do."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None, *, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # extra lines worth showing (a log tail, nginx's own error)


class BadInput(Tr4ctlError):
    exit_code = ExitCode.BAD_INPUT


class MissingPrerequisite(Tr4ctlError):
    exit_code = ExitCode.PREREQUISITE


class OperationFailed(Tr4ctlError):
    exit_code = ExitCode.FAILED


class Interrupted(Tr4ctlError):
    """Ctrl-C or SIGTERM: what was under way, and how to finish or undo it (cli/app.py
    exits 143 instead of 130 when the signal was SIGTERM)."""

    exit_code = ExitCode.INTERRUPTED


# OS errors the operator fixes on the host, not bugs: exit 2 with the path and the fix.
_OS_FIXES = {
    errno.EACCES: ("permission denied", "give this user access to it (or run as its owner)"),
    errno.EPERM: ("operation not permitted", "give this user access to it (or run as its owner)"),
    errno.EROFS: ("read-only file system", "use a writable place (--project-dir, --dir)"),
    errno.ENOSPC: ("no space left on device", "free disk space there, then run this again"),
    errno.EDQUOT: ("disk quota exceeded", "free space within the quota, then run this again"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.EISDIR: ("it is a folder, a file was expected", "check the path"),
    errno.ENAMETOOLONG: ("the path is too long", "use a shorter path"),
}


def from_os_error(exc: OSError) -> BadInput | None:
    """A host problem with a path (permission, read-only, no space, ...) as bad input
    naming the path; None for an OS error that is no such problem (a bug: exit 1)."""
    known = _OS_FIXES.get(exc.errno)
    if known is None:
        return None
    reason, hint = known
    paths = [str(p) for p in (exc.filename, exc.filename2) if p]
    where = f": {' -> '.join(paths)}" if paths else ""
    return BadInput(f"{reason}{where}", hint)
