"""cli/groups: flags declared once as a group reach the command as one frozen object."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from inferperf.cli.groups import FlagGroup, Runtime, grouped
from inferperf.cli.options import JsonOpt

SeenOpt = Annotated[int, typer.Option("--seen", help="x")]


def test_a_group_is_spread_into_options_and_rebuilt() -> None:
    got: list[Runtime] = []

    def cmd(seen: SeenOpt = 1, runtime: Runtime = Runtime(), json_path: JsonOpt = None) -> None:
        got.append(runtime)

    wrapped = grouped(cmd)
    assert list(inspect.signature(wrapped).parameters) == ["seen", "precision_hint", "prop", "config", "json_path"]
    app = typer.Typer()
    app.command()(wrapped)
    result = CliRunner().invoke(app, ["--infer-precision", "f32", "--property", "A=1"])
    assert result.exit_code == 0, result.output
    assert got == [Runtime(precision_hint="f32", prop=["A=1"], config=None)]
    resolved = got[0].resolve(hint="latency")
    assert resolved is not None and resolved.inference_precision == "f32" and resolved.hint == "latency"


def test_without_groups_the_command_is_unchanged() -> None:
    def cmd(seen: SeenOpt = 1) -> None:
        pass

    assert grouped(cmd) is cmd


@dataclass(frozen=True)
class Clash(FlagGroup):
    seen: SeenOpt = 2


def test_a_field_that_repeats_a_parameter_is_refused() -> None:
    def cmd(seen: SeenOpt = 1, clash: Clash = Clash()) -> None:
        pass

    with pytest.raises(TypeError, match="repeats a parameter"):
        grouped(cmd)
