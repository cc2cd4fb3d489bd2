"""Commands that look at a model or the machine: info, accuracy, doctor, zoo.

The top-level commands are registered on the app in ``cli/__init__.py``; zoo's subcommands here.
"""

from __future__ import annotations

import typer

from inferperf import api
from inferperf.cli.common import command, out
from inferperf.cli.groups import Image, Runtime
from inferperf.cli.options import (
    BackendOpt,
    DynamicAxesOpt,
    EvalBatchOpt,
    FlopsBatchOpt,
    FlopsShapeOpt,
    JsonOpt,
    LabelledDataOpt,
    ModelArg,
    PeakOpt,
    ZooBatchOpt,
    ZooFormatOpt,
    ZooNameArg,
    ZooOutOpt,
)
from inferperf.errors import InferperfError, as_flags
from inferperf.report.console import render_accuracy, render_doctor, render_info, render_zoo
from inferperf.results.schema import SCHEMA


def info(
    model: ModelArg = "builtin",
    shape: FlopsShapeOpt = None,
    batch: FlopsBatchOpt = 1,
    json_path: JsonOpt = None,
) -> None:
    """Show format, inputs/outputs (dynamic dims marked), size, sha256, parameters and MACs."""
    with command(json_path) as cmd:
        model_info = api.info(model)
        try:
            compute = api.flops(model_info.path, shape, batch)
        except InferperfError as exc:  # e.g. dynamic dims and no --shape: the facts above still stand
            compute = {"available": False, "reason": as_flags(exc.one_line())}
        doc = {"schema": SCHEMA, "kind": "info", "model": model_info.to_dict(), "compute": compute}
        cmd.show(doc, lambda _, console: render_info(model_info, console, compute), announce=False)


def accuracy(
    model: ModelArg = "builtin",
    data: LabelledDataOpt = "builtin",
    backend: BackendOpt = "openvino",
    batch: EvalBatchOpt = 1,
    image: Image = Image(),
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """Top-1 (and top-5) accuracy over labelled data, with exact binomial 95% intervals."""
    with command(json_path) as cmd:
        pre = image.preprocess()
        doc = api.accuracy(model, data=data, backend=backend, batch=batch, preprocess=pre, config=runtime.resolve())
        cmd.show(doc, render_accuracy, announce=False)


def doctor(peak: PeakOpt = True, json_path: JsonOpt = None) -> None:
    """Runtimes and extras installed, CPU features, measured peak GFLOP/s, and signs of a noisy machine."""
    with command(json_path) as cmd:
        cmd.show(api.doctor(measure_peak=peak), render_doctor, announce=False)


zoo_app = typer.Typer(help="Public architectures with random weights, built offline.", no_args_is_help=True)


@zoo_app.command("list")
def zoo_list() -> None:
    """List the zoo's architectures and whether an export is cached."""
    with command():
        render_zoo(api.zoo_list(), out)


@zoo_app.command("export")
def zoo_export(
    name: ZooNameArg,
    fmt: ZooFormatOpt = "onnx",
    batch: ZooBatchOpt = "dynamic",
    out_path: ZooOutOpt = None,
    dynamic_axes: DynamicAxesOpt = False,
) -> None:
    """Build a zoo model (cached) and print its path."""
    from inferperf.model.zoo import parse_batch

    with command():
        parse_batch(batch)  # a bad value is refused before anything is built
        path = api.zoo_export(name, fmt=fmt, batch=batch, out=out_path, dynamic_axes=dynamic_axes)
        out.print(str(path))
