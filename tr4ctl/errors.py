"""The one exception type commands raise, and the exit codes it maps to."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # an operation or a check failed
    BAD_INPUT = 2  # bad input or usage: nothing was changed
    PREREQUISITE = 3  # no Docker engine, no compose v2 plugin, ...


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
