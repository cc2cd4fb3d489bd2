"""One exception hierarchy for everything inferperf reports to a user.

Every error carries the exit code the CLI should use: 2 for a user's mistake
(bad path, bad option, bad shape), 3 for a runtime that failed on valid input.
"""

from __future__ import annotations

import importlib
import re
from typing import Any


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


def require(module: str, message: str, hint: str) -> Any:
    """The optional ``module``, imported; without it, BackendUnavailableError(``message``) saying how to
    install it. Runtimes and optional libraries are imported here, lazily, so ``import inferperf`` needs none."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendUnavailableError(message, hint=hint) from None


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (runtimes raise multi-line texts)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# Lines of a runtime's message that say where it was raised, not why: OpenVINO's C++ stack of
# "Exception from src/...cpp:117:" and its "Check '<expr>' failed at <file>:<line>:" assertions.
_WHERE = re.compile(r"^(Exception from \S+:\d+:?|Check '.*' failed at \S+:\d+:?)$")
_ORT_CODE = re.compile(r"^\[ONNXRuntimeError\] : \d+ : ")  # ONNX Runtime's numeric status before its name


def runtime_cause(exc: BaseException | str, limit: int = 3) -> str:
    """Why a runtime failed, on one line: its message with the lines that only say where it was raised
    skipped, at most ``limit`` lines of cause joined (the full text stays on the exception: --verbose)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    why = [_ORT_CODE.sub("", line) for line in lines if not _WHERE.match(line)]
    if not why:
        return lines[-1] if lines else type(exc).__name__
    text = why[0]
    for line in why[1:limit]:
        text += (" " if text.endswith(":") else "; ") + line
    return text


def runtime_text(exc: BaseException) -> str | None:
    """The runtime's whole message behind an inferperf error (its ``__cause__``), for --verbose."""
    cause = exc.__cause__
    if cause is None or isinstance(cause, InferperfError):
        return None
    return str(cause).strip() or None


class InvariantError(RuntimeError):
    """A measurement broke one of inferperf's own invariants: a bug of ours (exit 1), never a user's mistake.

    Deliberately outside InferperfError, so the CLI reports it as an internal error with its message.
    """


# Errors raised below the CLI name parameters as Python callers know them, written `param`; the CLI
# shows them as its flags (`int_range` -> --int-range). The one mapping from parameter to flag: the rule
# (underscores to dashes) and, where the flag is spelled otherwise, this table. tests/test_cli_vocabulary.py
# checks that every `param` any error message names is a flag some command takes, or is listed in
# API_ONLY, and that no entry here names a flag no command has.
_FLAG_RENAMES = {
    "histogram": "shape-histogram",
    "input_values": "input-value",
    "inputs": "inputs",
    "inference_precision": "infer-precision",
    "kv_caches": "kv-cache",
    "precisions": "precision",
    "ttft_max_ms": "ttft-max",
    "tpot_max_ms": "tpot-max",
    "e2e_max_ms": "e2e-max",
    "max_num_seqs": "max-seqs",
    "min_query_count": "min-queries",
}
# Parameters only Python callers set (no command has a flag for them): a message keeps them as `name`.
API_ONLY = frozenset({"dynamic_split_fuse", "max_num_batched_tokens", "endpoint", "samples", "max_requests"})


def as_flags(message: str) -> str:
    """``message`` with every `param` written as the command line's flag (a Python-only one left as it is)."""

    def flag(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in API_ONLY:
            return match.group(0)
        return "--" + _FLAG_RENAMES.get(name, name.replace("_", "-"))

    return re.sub(r"`([a-z][a-z0-9_]*)`", flag, message)
