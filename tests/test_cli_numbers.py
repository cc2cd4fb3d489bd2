"""Every number option of every command, given a non-number: exit 2, one error line, no traceback, no work.

The cases are derived, not listed: the click tree gives every command and option, and an option is tried
when typer parses it as a number (declared int or float) or when cli/options.py marks its alias ``PARSED``
(text the command parses into numbers: 128,512, 5m, 2GB, 1%, LOW,HIGH). The last test reads the CLI's
source for what it feeds to a parser, so a hand-parsed option added without the marker fails there.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import inferperf.cli
from inferperf.cli import app
from inferperf.cli.options import HandParsed

runner = CliRunner()
BAD = "abc"
LLM = "zoo:tiny-llama"  # for the flags only a decoder LLM's flow reads (scenario, optimize)
CLI_DIR = Path(inferperf.cli.__file__).parent


def _commands(group: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf command of the app with its path (``("zoo", "export")``)."""
    group = group or typer.main.get_command(app)
    for name, sub in getattr(group, "commands", {}).items():
        if getattr(sub, "commands", None):
            yield from _commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def _declared(command: Any) -> dict[str, Any]:
    """A command's parameters as declared: the ``Annotated`` alias of each (from options.py)."""
    return typing.get_type_hints(command.callback, include_extras=True)


def _base_type(hint: Any) -> Any:
    """``int`` of ``Annotated[int | None, ...]``."""
    inner = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    kept = [t for t in typing.get_args(inner) if t is not type(None)]
    return kept[0] if typing.get_origin(inner) in (typing.Union, type(int | None)) and len(kept) == 1 else inner


def _kind(hint: Any) -> str | None:
    """'typer' for an int or float option, 'parsed' for one marked PARSED, None for the others."""
    if any(isinstance(m, HandParsed) for m in getattr(hint, "__metadata__", ())):
        return "parsed"
    return "typer" if _base_type(hint) in (int, float) else None


COMMANDS = dict(_commands())


def _cases() -> Iterator[Any]:
    for path, command in COMMANDS.items():
        hints = _declared(command)
        for param in command.params:
            if param.param_type_name == "option" and not param.is_flag and (kind := _kind(hints[param.name])):
                yield pytest.param(path, param.opts[0], kind, id=f"{' '.join(path)} {param.opts[0]}")


CASES = list(_cases())


def _placeholders(path: tuple[str, ...]) -> list[str]:
    """A value for each required argument (a bad option is reported before any argument is used)."""
    command = COMMANDS[path]
    hints = _declared(command)
    args = [p for p in command.params if p.param_type_name == "argument" and p.required]
    return ["1" if _base_type(hints[p.name]) is int else "placeholder" for p in args]


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every API function that does work (all but the ``is_*`` predicates a command asks while parsing) made
    to record its call and fail: a bad value must be refused before any of them runs."""
    import inspect

    from inferperf import api

    called: list[str] = []
    for name in api.__all__:
        target = getattr(api, name)
        if inspect.isfunction(target) and not name.startswith("is_"):

            def refuse(*_a: object, _name: str = name, **_k: object) -> None:
                called.append(_name)
                raise AssertionError(f"api.{_name} ran before the bad value was refused")

            monkeypatch.setattr(api, name, refuse)
    return called


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize(("path", "flag", "kind"), CASES)
def test_non_number_is_one_line_and_exit_2(path: tuple[str, ...], flag: str, kind: str, no_work: list[str]) -> None:
    code, output = _run(*path, *_placeholders(path), flag, BAD)
    if kind == "parsed" and f"'{BAD}'" not in output and "model" in _declared(COMMANDS[path]):
        code, output = _run(*path, LLM, flag, BAD)  # a flag of the LLM flow: the value is read there
    assert not no_work, f"the command did work ({no_work}) before it read {flag}"
    assert code == 2, output
    assert "Traceback" not in output
    if kind == "parsed":  # ours: the command wrapper's one line
        assert len(_lines(output)) == 1, output
        assert output.startswith("error:") and flag in output and f"'{BAD}'" in output, output
    else:  # typer's usage error: usage, a hint and one message naming the option
        errors = [line for line in _lines(output) if "Invalid value" in line]
        assert len(errors) == 1 and f"'{flag}'" in errors[0], output


def test_cases_cover_the_known_ones() -> None:
    ids = {(" ".join(p.values[0]), p.values[1]) for p in CASES}
    assert {("generate", "--prompt-tokens"), ("generate", "--new-tokens"), ("zoo export", "--batch")} <= ids


# --- Which options the CLI parses by hand: read from its source -----------------------------------


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_parser(name: str) -> bool:
    return name.startswith("parse_") or name == "numbers"


def _params(node: ast.FunctionDef) -> list[str]:
    return [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]


def _functions() -> dict[str, tuple[str, ast.FunctionDef]]:
    """The CLI's module-level functions by name, with their module's name."""
    found = {}
    for path in sorted(CLI_DIR.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = (path.stem, node)
    return found


def _fed(call: ast.Call, funcs: dict[str, tuple[str, ast.FunctionDef]], fed: dict[str, set[str]]) -> list[ast.expr]:
    """The arguments of ``call`` that reach a parser: a parser's text, or the parameters a CLI function of
    ours passes on to one."""
    name = _call_name(call)
    if _is_parser(name):
        return call.args[:1]
    if not isinstance(call.func, ast.Name) or name not in funcs:
        return []
    params = _params(funcs[name][1])
    positional = [a for i, a in enumerate(call.args) if i < len(params) and params[i] in fed[name]]
    return positional + [k.value for k in call.keywords if k.arg in fed[name]]


def _flag_texts(call: ast.Call) -> set[str]:
    """The flags a parser call names (``numbers(batch, "batch", int)``, ``parse_seconds(x, "--budget")``)."""
    texts = [a.value for a in call.args[1:] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return {"--" + t.lstrip("-") for t in texts}


def _group_fields_fed(funcs: dict[str, tuple[str, ast.FunctionDef]], fed: dict[str, set[str]]) -> dict[str, set[str]]:
    """Per flag group (cli/groups*.py), the fields its methods (or its bases') pass to a parser: a command
    taking the group takes those flags, parsed by hand."""
    classes = [n for path in sorted(CLI_DIR.glob("groups*.py")) for n in ast.parse(path.read_text("utf-8")).body]
    found: dict[str, set[str]] = {}
    for node in (n for n in classes if isinstance(n, ast.ClassDef)):
        own = {b.id for b in node.bases if isinstance(b, ast.Name)}
        fields = set().union(*(found.get(base, set()) for base in own))
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            fields |= {
                a.attr
                for a in _fed(call, funcs, fed)
                if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "self"
            }
        found[node.name] = fields
    return found


def _group_params(node: ast.FunctionDef, groups: dict[str, set[str]]) -> set[str]:
    """The flags a command takes through its flag-group parameters that reach a parser."""
    args = (*node.args.args, *node.args.kwonlyargs)
    return set().union(
        *(groups[a.annotation.id] for a in args if isinstance(a.annotation, ast.Name) and a.annotation.id in groups)
    )


def _hand_parsed() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per CLI function, its parameters that reach a parser (followed through our helpers until nothing
    changes); per CLI module, the flags its parser calls name."""
    funcs = _functions()
    fed: dict[str, set[str]] = {name: set() for name in funcs}
    flags: dict[str, set[str]] = {module: set() for module, _ in funcs.values()}
    for _ in range(len(funcs)):
        before = sum(map(len, fed.values()))
        groups = _group_fields_fed(funcs, fed)
        for name, (module, node) in funcs.items():
            params = _params(node)
            fed[name] |= _group_params(node, groups)
            for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
                fed[name] |= {a.id for a in _fed(call, funcs, fed) if isinstance(a, ast.Name) and a.id in params}
                flags[module] |= _flag_texts(call) if _is_parser(_call_name(call)) else set()
        if sum(map(len, fed.values())) == before:
            break
    return fed, flags


def _parsed_options(keep: Callable[[Any], bool]) -> set[tuple[str, str]]:
    """(command, flag) of every option the CLI's source feeds to a parser whose declaration ``keep``s."""
    fed, flags = _hand_parsed()
    found = set()
    for path, command in COMMANDS.items():
        hints, callback = _declared(command), command.callback
        module = callback.__module__.rsplit(".", 1)[-1]
        for param in command.params:
            if param.param_type_name != "option":
                continue
            reached = param.name in fed.get(callback.__name__, set()) or set(param.opts) & flags.get(module, set())
            if reached and keep(hints[param.name]):
                found.add((" ".join(path), param.opts[0]))
    return found


def test_every_hand_parsed_option_is_marked() -> None:
    """An option whose text a command feeds to parse_* or numbers (directly or through a helper) must carry
    PARSED in options.py, so the test above tries it."""
    assert _parsed_options(lambda hint: _kind(hint) is None) == set()
    # The reading itself finds them: directly, through _slo, preprocess and _tune_options, by a flag named.
    found = _parsed_options(lambda hint: True)
    assert {
        ("generate", "--prompt-tokens"),
        ("generate", "--ttft-max"),
        ("accuracy", "--size"),
        ("tune", "--budget"),
        ("optimize", "--min-agreement"),
    } <= found
    assert ("accuracy", "--layout") not in found


def test_the_no_work_guard_sees_a_command_that_works(no_work: list[str]) -> None:
    """The guard above can fail: a valid command reaches the API and is caught doing so."""
    code, _ = _run("info", "builtin")
    assert no_work == ["info"] and code != 0
