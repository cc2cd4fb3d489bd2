"""Flag groups: flags that travel together, declared once and taken by a command as one parameter.

A command writes ``runtime: Runtime`` instead of ``precision_hint``, ``prop`` and ``config`` in its
signature; ``grouped`` (applied where the commands are registered) shows typer the group's fields as
ordinary options and hands the command one frozen ``Runtime``. The fields keep their flag names, so
``--help`` and every flag stay as they were. Where one command explains a flag in its own words (what
``--shapes`` means to a guard differs from what it means to coldstart), a subclass re-declares that
field with its own option; the group's methods stay the one place its flags become objects.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypedDict, get_type_hints

from inferperf import api
from inferperf.cli.common import Preprocess, preprocess, runtime_config, shape_spec, warn
from inferperf.cli.options import (
    BenchConfigOpt,
    BenchInferPrecisionOpt,
    BenchShapesOpt,
    BenchThreadsOpt,
    CalibrationDataOpt,
    CalibrationShapeOpt,
    ColdstartShapesOpt,
    ColdstartStreamOpt,
    ColorOpt,
    CompareShapesOpt,
    ConfigFileOpt,
    GuardDataOpt,
    GuardShapesOpt,
    GuardStreamOpt,
    HintOpt,
    HistogramOpt,
    InferPrecisionOpt,
    LayoutOpt,
    MaxDropOpt,
    MeanOpt,
    MemoryShapesOpt,
    OptimizeShapesOpt,
    ProfileHintOpt,
    PropertyOpt,
    QuantizeMaxDropOpt,
    ScaleOpt,
    ScenarioHintOpt,
    ScenarioShapesOpt,
    SizeOpt,
    SpeedSecondsOpt,
    StreamOpt,
    StreamsOpt,
    SyntheticShapeOpt,
    ThreadsOpt,
    TuneShapesOpt,
    TuneStreamOpt,
)
from inferperf.config import RuntimeConfig


class FlagGroup:
    """Marker of a dataclass whose fields are flags (see ``grouped``)."""


# --- Runtime: --infer-precision, --property, --config ----------------------------------------------


@dataclass(frozen=True)
class Runtime(FlagGroup):
    """--infer-precision, --property, --config: every command that compiles a model takes them."""

    precision_hint: InferPrecisionOpt = None
    prop: PropertyOpt = None
    config: ConfigFileOpt = None

    def resolve(self, **knobs: Any) -> RuntimeConfig | None:
        """The RuntimeConfig of these flags and the command's own knobs (None: nothing given)."""
        return runtime_config(self.config, self.precision_hint, self.prop, **knobs)


@dataclass(frozen=True)
class Properties(FlagGroup):
    """--property and --config alone: for the command that sweeps the precision itself."""

    prop: PropertyOpt = None
    config: ConfigFileOpt = None

    def resolve(self, **knobs: Any) -> RuntimeConfig | None:
        """The RuntimeConfig of these flags and the command's own knobs (None: nothing given)."""
        return runtime_config(self.config, None, self.prop, **knobs)


@dataclass(frozen=True)
class BenchRuntime(Runtime):
    """bench's wording: its --config is a whole bench config (runtime and limits)."""

    config: BenchConfigOpt = None
    precision_hint: BenchInferPrecisionOpt = None


# --- OpenVINO execution knobs: --hint, --streams, --threads ----------------------------------------


class KnobKeywords(TypedDict):
    """--hint, --streams, --threads as ``runtime_config`` keywords (None: not given)."""

    hint: str | None
    streams: int | None
    threads: int | None


@dataclass(frozen=True)
class Knobs(FlagGroup):
    """--hint, --streams, --threads as RuntimeConfig fields (None: not given)."""

    hint: HintOpt = None
    streams: StreamsOpt = None
    threads: ThreadsOpt = None

    def given(self) -> KnobKeywords:
        """The knobs as ``runtime_config`` keywords."""
        return {"hint": self.hint, "streams": self.streams, "threads": self.threads}


@dataclass(frozen=True)
class BenchKnobs(Knobs):
    threads: BenchThreadsOpt = None


@dataclass(frozen=True)
class ProfileKnobs(Knobs):
    hint: ProfileHintOpt = None


@dataclass(frozen=True)
class ScenarioKnobs(Knobs):
    hint: ScenarioHintOpt = None


# --- Shape distributions: --shapes, --shape-histogram, --stream ------------------------------------


@dataclass(frozen=True)
class Shapes(FlagGroup):
    """--shapes with --shape-histogram and --stream: a seeded stream of shapes, or None without --shapes."""

    shapes: BenchShapesOpt = None
    shape_histogram: HistogramOpt = None
    stream: StreamOpt = 100

    def spec(self, data: str | Path | None = None, seed: int = 0) -> api.ShapeSpec | None:
        """The one spec of these flags (``data``: --data as the sizes of '--shapes data')."""
        return shape_spec(self.shapes, self.shape_histogram, self.stream, data, seed)


@dataclass(frozen=True)
class ColdstartShapes(Shapes):
    shapes: ColdstartShapesOpt = None
    stream: ColdstartStreamOpt = 100


@dataclass(frozen=True)
class MemoryShapes(Shapes):
    shapes: MemoryShapesOpt = None
    stream: StreamOpt = 32


@dataclass(frozen=True)
class OptimizeShapes(Shapes):
    shapes: OptimizeShapesOpt = None
    stream: StreamOpt = 32


@dataclass(frozen=True)
class TuneShapes(Shapes):
    shapes: TuneShapesOpt = None
    stream: TuneStreamOpt = 32


@dataclass(frozen=True)
class ScenarioShapes(Shapes):
    shapes: ScenarioShapesOpt = None


@dataclass(frozen=True)
class CompareShapes(Shapes):
    shapes: CompareShapesOpt = None


# --- The accuracy guard and speed check of quantize, prune, precision ------------------------------


@dataclass(frozen=True)
class Guard(FlagGroup):
    """--data, --max-drop, --shape, the shape stream and --seconds: how an optimization is judged."""

    data: GuardDataOpt = None
    max_drop: MaxDropOpt = 0.01
    shape: SyntheticShapeOpt = None
    shapes: GuardShapesOpt = None
    shape_histogram: HistogramOpt = None
    stream: GuardStreamOpt = 32
    seconds: SpeedSecondsOpt = 5.0

    def given(self, backend: str, rounds: int, config: RuntimeConfig | None) -> api.GuardArgs:
        """As the guarded API functions take them, with the command's backend, rounds and runtime config;
        the warnings (synthetic inputs) go to stderr."""
        shapes = shape_spec(self.shapes, self.shape_histogram, self.stream)
        return {
            "backend": backend, "data": self.data, "max_drop": self.max_drop, "shape": self.shape, "rounds": rounds,
            "seconds": self.seconds, "warn": warn, "shapes": shapes, "config": config,
        }  # fmt: skip


@dataclass(frozen=True)
class CalibrationGuard(Guard):
    """quantize's wording: its data also calibrates, its synthetic inputs are calibration inputs."""

    data: CalibrationDataOpt = None
    max_drop: QuantizeMaxDropOpt = 0.01
    shape: CalibrationShapeOpt = None


# --- Image pre-processing: --size, --mean, --scale, --layout, --color ------------------------------


@dataclass(frozen=True)
class Image(FlagGroup):
    """The image pre-processing flags."""

    size: SizeOpt = None
    mean: MeanOpt = None
    scale: ScaleOpt = None
    layout: LayoutOpt = None
    color: ColorOpt = None

    def preprocess(self) -> Preprocess:
        """As the API takes them (numbers parsed; a bad one is a one-line error)."""
        return preprocess(self.size, self.mean, self.scale, self.layout, self.color)


# --- The decorator ---------------------------------------------------------------------------------


def _is_group(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, FlagGroup)


def _group_parameters(group: type[FlagGroup]) -> list[inspect.Parameter]:
    hints = get_type_hints(group, include_extras=True)
    return [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
        for f in fields(group)  # type: ignore[arg-type]  # FlagGroup subclasses are dataclasses
    ]


def grouped(func: Callable[..., None]) -> Callable[..., None]:
    """``func`` as typer should see it: each FlagGroup parameter spread into its fields' options.

    A command without group parameters comes back unchanged. Field names must not collide with the
    command's own parameters or another group's (checked here, at import: a collision is a bug).
    """
    hints = get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    groups: dict[str, tuple[type[FlagGroup], list[str]]] = {}
    parameters: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        annotation = hints.get(param.name, param.annotation)
        if _is_group(annotation):
            spread = _group_parameters(annotation)
            groups[param.name] = (annotation, [p.name for p in spread])
            parameters.extend(spread)
        else:
            parameters.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    if not groups:
        return func
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise TypeError(f"{func.__name__}: a flag group's field repeats a parameter: {sorted(names)}")

    @functools.wraps(func)
    def command(**given: Any) -> None:
        for name, (group, members) in groups.items():
            given[name] = group(**{m: given.pop(m) for m in members})
        func(**given)

    command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    del command.__wrapped__  # typer must read the spread signature, not follow it to the original
    return command
