"""The one exception type commands raise, and the exit codes it maps to.

The rule (README, "Exit codes"), the same for every command:
0 done (or every check passed); 1 an operation or a check failed; 2 the request itself
is refused (bad input or usage, or unsafe as asked): nothing was changed; 3 something
the command needs is not there: no engine, no compose v2 plugin, no stack in this
project, or the stack or the service it needs is not running; 130 interrupted (Ctrl-C).
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # an operation or a check failed
    BAD_INPUT = 2  # bad input or usage: nothing was changed
    PREREQUISITE = 3  # what the command needs is not there (engine, plugin, running stack)
    INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


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
    """Ctrl-C: what was under way, and how to finish or undo it."""

    exit_code = ExitCode.INTERRUPTED
