"""The Python API: everything the CLI does, callable from code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inferperf.backends import get_backend
from inferperf.config import MODES, RunLimits, RuntimeConfig, Scenario
from inferperf.errors import BackendError, ConfigError
from inferperf.inputs import build_input_sets
from inferperf.measure import collect_environment
from inferperf.measure.runner import Progress, run_scenario
from inferperf.model import ModelInfo, load_model_info, parse_shape_spec, resolve_shapes
from inferperf.results.schema import BenchResult, RunResult

# progress_factory(label) -> a progress callback for that run, or None
ProgressFactory = Callable[[str], Progress | None]


def info(model: str | Path) -> ModelInfo:
    """Inspect a model file (or ``builtin``): format, inputs, outputs, size, hash."""
    return load_model_info(model)


def _modes(mode: str) -> tuple[Scenario, ...]:
    if mode not in MODES:
        raise ConfigError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
    return MODES[mode]  # type: ignore[return-value]


def bench(
    model: str | Path,
    *,
    backends: Sequence[str] = ("openvino",),
    mode: str = "both",
    config: RuntimeConfig | None = None,
    limits: RunLimits | None = None,
    shape: str | None = None,
    inputs: str | Path | None = None,
    int_range: tuple[int, int] = (0, 100),
    input_values: dict[str, float] | None = None,
    seed: int = 0,
    progress_factory: ProgressFactory | None = None,
) -> BenchResult:
    """Measure latency and/or throughput of ``model`` on each backend.

    Every (backend, scenario) pair is compiled and measured apart. A runtime
    failure in one run is recorded in ``errors`` and the others still run;
    when no run succeeds, the first failure is raised.
    """
    config = config or RuntimeConfig()
    limits = limits or RunLimits()
    scenarios = _modes(mode)
    plugins = [get_backend(name) for name in backends]  # fail fast on unknown/missing
    info_ = load_model_info(model)
    shapes = resolve_shapes(info_, parse_shape_spec(shape), config.batch)
    input_sets = build_input_sets(info_, shapes, npz=inputs, seed=seed, int_range=int_range, values=input_values)
    environment = collect_environment()
    runs: list[RunResult] = []
    errors: list[dict[str, str]] = []
    for plugin in plugins:
        environment["versions"].update(plugin.versions())
        for scenario in scenarios:
            label = f"{plugin.name} {scenario}"
            progress = progress_factory(label) if progress_factory else None
            try:
                runs.append(
                    run_scenario(
                        plugin, info_, shapes, input_sets, config.with_(backend=plugin.name), scenario, limits, progress
                    )
                )
            except BackendError as exc:
                errors.append({"backend": plugin.name, "scenario": scenario, "error": exc.one_line()})
    if not runs and errors:
        raise BackendError(errors[0]["error"])
    model_doc: dict[str, Any] = {**info_.to_dict(), "shapes": {k: list(v) for k, v in shapes.items()}}
    return BenchResult(
        model=model_doc,
        environment=environment,
        limits=limits.to_dict(),
        runs=tuple(runs),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        errors=tuple(errors),
    )
