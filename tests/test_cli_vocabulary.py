"""One CLI vocabulary: every `param` an error message names reaches the user as a flag that a command takes.

Errors below the CLI name parameters in backticks; the CLI's wrapper rewrites them as flags (errors.as_flags).
A message naming `ttft_max_ms` used to tell the user to fix --ttft-max-ms, which no command has. Here every
error message in src/ (the strings inside a raise or an ...Error(...) call) is read, each `param` mapped as
the CLI maps it, and the flag looked up among every command's options.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import typer.main

from inferperf.cli import app
from inferperf.errors import _FLAG_RENAMES, API_ONLY, as_flags

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inferperf"
PARAM = re.compile(r"(?<!`)`([a-z][a-z0-9_]*)`(?!`)")  # `param`, not reST's ``literal``


def _is_error_call(node: ast.AST) -> bool:
    func = getattr(node, "func", None)
    name = getattr(func, "id", None) or getattr(func, "attr", None) or ""
    return isinstance(node, ast.Call) and name.endswith(("Error", "Exception"))


def message_params() -> dict[str, list[str]]:
    """Every `param` an error message names -> where (file:line)."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        errors = [n for n in ast.walk(tree) if isinstance(n, ast.Raise) or _is_error_call(n)]
        for node in (inner for e in errors for inner in ast.walk(e)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in PARAM.findall(node.value):
                    found.setdefault(name, []).append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def cli_flags() -> set[str]:
    """Every option spelling of every command and sub-command."""
    flags: set[str] = set()

    def walk(command: Any) -> None:
        for sub in getattr(command, "commands", {}).values():
            walk(sub)
        for param in command.params:
            flags.update(param.opts)
            flags.update(getattr(param, "secondary_opts", ()))

    walk(typer.main.get_command(app))
    return flags


def test_every_param_a_message_names_is_a_flag_some_command_takes() -> None:
    flags = cli_flags()
    params = message_params()
    assert len(params) > 30  # the collection itself works
    missing = {
        name: where[:2] for name, where in params.items() if name not in API_ONLY and as_flags(f"`{name}`") not in flags
    }
    assert not missing, f"messages name flags no command takes (rename, or map in errors._FLAG_RENAMES): {missing}"


def test_the_declared_mapping_names_real_flags_only() -> None:
    flags = cli_flags()
    assert not {f"--{flag}" for flag in _FLAG_RENAMES.values()} - flags
    # a parameter declared Python-only must not have become a flag since (then it is no longer Python-only)
    assert not {n for n in API_ONLY if "--" + n.replace("_", "-") in flags}


def test_python_only_params_stay_as_the_caller_knows_them() -> None:
    assert as_flags("`max_num_seqs` above `max_num_batched_tokens`") == "--max-seqs above `max_num_batched_tokens`"
    assert as_flags("an SLO: `ttft_max_ms`, `tpot_max_ms` or `e2e_max_ms`") == (
        "an SLO: --ttft-max, --tpot-max or --e2e-max"
    )


def _command_flags() -> dict[tuple[str, ...], set[str]]:
    """Each leaf command's path and its option spellings."""
    out: dict[tuple[str, ...], set[str]] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", {})
        for name, sub in subs.items():
            walk(sub, (*path, name))
        if not subs:
            out[path] = {o for p in command.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))}

    walk(typer.main.get_command(app), ())
    return out


def test_renamed_flags_are_gone_from_their_command_and_the_new_ones_there() -> None:
    from inferperf.cli.options import DEPRECATED_FLAGS

    flags = _command_flags()
    for (*path, old), new in DEPRECATED_FLAGS.items():
        taken = flags[tuple(path)]
        assert new in taken and old not in taken, (path, old, new)


def test_an_old_spelling_is_rewritten_with_a_warning() -> None:
    from inferperf.cli.common import upgrade_argv

    argv, warnings = upgrade_argv(["--debug", "bench", "m.onnx", "--precision", "0.01", "--time=5s"])
    assert argv == ["--debug", "bench", "m.onnx", "--target-ci", "0.01", "--time=5s"]
    assert warnings == ["inferperf bench: --precision is now --target-ci (the old spelling goes in the next release)"]
    argv, warnings = upgrade_argv(["generate", "--batch", "1,2"])
    assert argv == ["generate", "--batches", "1,2"] and warnings == [
        "inferperf generate: --batch is now --batches (the old spelling goes in the next release)"
    ]
    argv, warnings = upgrade_argv(["history", "list", "--history=h.db"])
    assert argv == ["history", "list", "--history-file=h.db"] and len(warnings) == 1
    # the precision command's own --precision is not the renamed one
    assert upgrade_argv(["precision", "m.onnx", "--precision", "bf16"]) == (
        ["precision", "m.onnx", "--precision", "bf16"],
        [],
    )


def test_every_duration_goes_through_the_one_parser() -> None:
    """An option whose help speaks of seconds or a duration parses units (5s, 500ms, 2m) the same way."""
    from typer.testing import CliRunner

    from inferperf.cli.options import duration_s

    assert (duration_s("90"), duration_s("500ms"), duration_s("2m"), duration_s("0")) == (90.0, 0.5, 120.0, 0.0)
    result = CliRunner().invoke(app, ["bench", "builtin", "--time", "5 parsecs"])
    assert result.exit_code == 2 and "--time" in result.output
