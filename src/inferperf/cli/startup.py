"""Commands on what a model costs before and around steady state: coldstart, memory.

Registered on the app in ``cli/__init__.py``.
"""

from __future__ import annotations

from inferperf import api
from inferperf.cli.common import command, numbers
from inferperf.cli.groups import ColdstartShapes, MemoryShapes, Runtime
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
        guard_stream = shape_stream.spec()
        with cmd.status("coldstart") as status:
            doc = api.coldstart(
                model,
                backend=backend,
                runs=runs,
                cache_dir=cache_dir,
                shape=shape,
                timeout_s=timeout,
                progress=status,
                shapes=guard_stream,
                config=runtime.resolve(),
            )
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
        guard_stream = shape_stream.spec()
        sizes = [int(b) for b in numbers(batches, "batches", int) or ()]
        with cmd.status("memory") as status:
            doc = api.memory(
                model,
                backend=backend,
                variants=variant or [],
                batches=sizes,
                shape=shape,
                steady_s=steady,
                leak_iterations=leak_iterations,
                timeout_s=timeout,
                progress=status,
                shapes=guard_stream,
                config=runtime.resolve(),
            )
        cmd.show(doc, render_memory, announce=False)
