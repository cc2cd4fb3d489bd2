"""One exception hierarchy for everything inferperf reports to a user.

Every error carries the exit code the CLI should use: 2 for a user's mistake
(bad path, bad option, bad shape), 3 for a runtime that failed on valid input.
"""

from __future__ import annotations


class InferperfError(Exception):
    """Base of every error inferperf raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and its hint, on one line, for the console."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ModelError(InferperfError):
    """The model file is missing, unreadable, corrupt or of an unknown format."""


class InputSpecError(InferperfError):
    """Shapes, input files or input values do not fit the model."""


class ConfigError(InferperfError):
    """An option or a config file is invalid."""


class BackendUnavailableError(InferperfError):
    """The requested backend is unknown or its runtime is not installed."""


class ResultError(InferperfError):
    """A result document cannot be read or written."""


class BackendError(InferperfError):
    """The runtime refused or failed on a model or configuration that parsed fine."""

    exit_code = 3


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (runtimes raise multi-line texts)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class InvariantError(RuntimeError):
    """A measurement broke one of inferperf's own invariants: a bug of ours (exit 1), never a user's mistake.

    Deliberately outside InferperfError, so the CLI reports it as an internal error with its message.
    """


# Errors raised below the CLI name parameters as Python callers know them, written `param`; the CLI
# shows them as its flags (`int_range` -> --int-range). One spelling rule, so no message names a flag.
_FLAG_RENAMES = {"histogram": "shape-histogram", "input_values": "input", "inputs": "inputs"}


def as_flags(message: str) -> str:
    """``message`` with every `param` written as the command line's flag."""
    import re

    def flag(match: re.Match[str]) -> str:
        name = match.group(1)
        return "--" + _FLAG_RENAMES.get(name, name.replace("_", "-"))

    return re.sub(r"`([a-z][a-z0-9_]*)`", flag, message)
