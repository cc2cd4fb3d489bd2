"""Commands on what a model costs before and around steady state: coldstart, memory.

Registered on the app in ``cli/__init__.py``.
"""

from __future__ import annotations

from typing import TypedDict

from inferperf import api
from inferperf.cli.common import command, numbers
from inferperf.cli.groups import ColdstartShapes, MemoryShapes, Runtime, Shapes
from inferperf.cli.options import (
    BackendOpt,
    BatchesOpt,
    ColdCacheDirOpt,
    JsonOpt,
    LeakIterationsOpt,
    ModelArg,
    RunsOpt,
    ShapeOpt,
    SteadyOpt,
    TimeoutOpt,
    VariantOpt,
)
from inferperf.config import RuntimeConfig
from inferperf.report.startup_console import render_coldstart, render_memory


def coldstart(
    model: ModelArg = "builtin",
    backend: BackendOpt = "openvino",
    runs: RunsOpt = 5,
    cache_dir: ColdCacheDirOpt = None,
    shape: ShapeOpt = None,
    shape_stream: ColdstartShapes = ColdstartShapes(),
    timeout: TimeoutOpt = 300.0,
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """First-inference latency (import, read, compile, first and second inference) in fresh processes."""
    with command(json_path) as cmd:
        target = _fresh_target(backend, shape, shape_stream, timeout, runtime)
        with cmd.status("coldstart") as status:
            doc = api.coldstart(model, runs=runs, cache_dir=cache_dir, progress=status, **target)
        cmd.show(doc, render_coldstart, announce=False)


def memory(
    model: ModelArg = "builtin",
    backend: BackendOpt = "openvino",
    variant: VariantOpt = None,
    batches: BatchesOpt = None,
    shape: ShapeOpt = None,
    steady: SteadyOpt = 3.0,
    leak_iterations: LeakIterationsOpt = 1000,
    timeout: TimeoutOpt = 600.0,
    shape_stream: MemoryShapes = MemoryShapes(),
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """Memory per phase (import, read, compile, first inference, steady state, leak) per configuration."""
    with command(json_path) as cmd:
        target = _fresh_target(backend, shape, shape_stream, timeout, runtime)
        sizes = [int(b) for b in numbers(batches, "batches", int) or ()]
        with cmd.status("memory") as status:
            doc = api.memory(
                model, variants=variant or [], batches=sizes, steady_s=steady, leak_iterations=leak_iterations,
                progress=status, **target,
            )  # fmt: skip
        cmd.show(doc, render_memory, announce=False)


class FreshTarget(TypedDict):
    """What coldstart and memory both measure in fresh processes, as their API functions take it."""

    backend: str
    shape: str | None
    shapes: api.ShapeSpec | None
    timeout_s: float
    config: RuntimeConfig | None


def _fresh_target(backend: str, shape: str | None, stream: Shapes, timeout: float, runtime: Runtime) -> FreshTarget:
    """The shared flags parsed (a bad one fails before the status line is drawn)."""
    return {
        "backend": backend, "shape": shape, "shapes": stream.spec(), "timeout_s": timeout,
        "config": runtime.resolve(),
    }  # fmt: skip
