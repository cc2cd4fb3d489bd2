"""Typed, frozen, validated configuration objects.

The CLI parses its options once into these; nothing below the CLI sees an
argument namespace. Every object round-trips through a plain dict, which is
what ``--config FILE`` reads and what result documents record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

from inferperf.errors import ConfigError, InferperfError
from inferperf.jsonform import JsonRecord

Hint = Literal["latency", "throughput", "cumulative_throughput", "none"]
Scenario = Literal["latency", "throughput"]
HINTS: tuple[str, ...] = ("latency", "throughput", "cumulative_throughput", "none")
SCENARIOS: tuple[str, ...] = ("latency", "throughput")
MODES: dict[str, tuple[str, ...]] = {
    "latency": ("latency",),
    "throughput": ("throughput",),
    "both": ("latency", "throughput"),
}
PRECISIONS: tuple[str, ...] = ("f32", "bf16", "f16")
EXECUTION_MODES: tuple[str, ...] = ("sequential", "parallel")
GRAPH_LEVELS: tuple[str, ...] = ("disable", "basic", "extended", "all")
# "memory": read the model, then compile the in-memory graph; "path": hand the runtime the file.
COMPILE_FROM: tuple[str, ...] = ("memory", "path")


def _check_choice(name: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise ConfigError(f"invalid {name} {value!r}: expected one of {', '.join(choices)}")


def _check_positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"invalid {name} {value!r}: must be {'>= 0' if allow_zero else '> 0'}")


@dataclass(frozen=True)
class RuntimeConfig(JsonRecord):
    """What to ask of a runtime. ``None`` means: leave the runtime's own default.

    Backend-specific knobs live side by side; a backend reads the ones it
    understands and reports in ``Engine.effective()`` what it actually used.
    """

    backend: str = "openvino"
    device: str = "CPU"
    hint: Hint | None = None
    streams: int | None = None
    threads: int | None = None
    requests: int | None = None
    batch: int = 1
    inference_precision: str | None = None
    cache_dir: str | None = None
    pinning: bool | None = None
    inter_op_threads: int | None = None
    execution_mode: str | None = None
    graph_optimization: str | None = None
    compile_from: str | None = None
    mmap: bool | None = None
    properties: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_choice("hint", self.hint, HINTS)
        _check_choice("inference precision", self.inference_precision, PRECISIONS)
        _check_choice("execution mode", self.execution_mode, EXECUTION_MODES)
        _check_choice("graph optimization level", self.graph_optimization, GRAPH_LEVELS)
        _check_choice("compile source", self.compile_from, COMPILE_FROM)
        for name in ("streams", "threads", "requests", "batch", "inter_op_threads"):
            _check_positive(name, getattr(self, name))

    def with_(self, **changes: Any) -> RuntimeConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuntimeConfig:
        """Build from a dict; unknown keys are an error so typos do not pass silently."""
        return cast(RuntimeConfig, _from_dict(cls, data))


AUTO_RUNS = 5  # t(4) = 2.78: the fewest runs whose between-run interval stays informative
MAX_RUNS = 10
RUNS_PRECISION = 0.02  # combined half-width / estimate that stops adding runs


@dataclass(frozen=True)
class RunLimits(JsonRecord):
    """When to stop measuring.

    ``time_s`` or ``iterations`` make a fixed budget; without them the run stops
    adaptively once the median's interval half-width is at most ``precision``
    of the median and ``min_time_s`` and ``min_count`` are met, or at
    ``max_time_s`` (then it reports that it did not converge).
    """

    time_s: float | None = None
    iterations: int | None = None
    precision: float = 0.01
    min_time_s: float = 3.0
    min_count: int = 100
    max_time_s: float = 60.0
    warmup_s: float = 1.0
    check_every_s: float = 0.5
    # Independent runs (fresh compile each). None: 1 with a fixed --time/--iterations budget; with adaptive
    # stopping, AUTO_RUNS to MAX_RUNS runs sharing about the budget one long run used to take.
    repeats: int | None = None

    def __post_init__(self) -> None:
        _check_positive("time", self.time_s)
        _check_positive("iterations", self.iterations)
        _check_positive("precision", self.precision)
        _check_positive("max time", self.max_time_s)
        _check_positive("warm-up time", self.warmup_s, allow_zero=True)
        _check_positive("min time", self.min_time_s, allow_zero=True)
        _check_positive("repeats", self.repeats)

    @property
    def adaptive(self) -> bool:
        """True when neither a time nor an iteration budget was given."""
        return self.time_s is None and self.iterations is None

    def runs_plan(self) -> tuple[int, int, RunLimits]:
        """(runs at least, runs at most, the limits of each run).

        An interval from one run describes that run's samples; a rerun lands elsewhere by the machine's
        run-to-run variation (thread placement, memory layout, frequency, neighbours), which more samples
        in the same run never reveal. So the adaptive default spends its time on AUTO_RUNS short
        independent runs of a fixed length (``min_time_s`` / AUTO_RUNS each, short warm-up) and adds runs,
        up to MAX_RUNS, while the combined interval is wider than RUNS_PRECISION. A fixed budget keeps
        its meaning: one run of it; ``repeats`` makes that many.
        """
        if self.repeats is not None:
            return self.repeats, self.repeats, self
        if not self.adaptive:
            return 1, 1, self
        each = replace(self, time_s=self.min_time_s / AUTO_RUNS, warmup_s=min(self.warmup_s, 0.3), repeats=1)
        return AUTO_RUNS, MAX_RUNS, each

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunLimits:
        """Build from a dict; unknown keys are an error."""
        return cast(RunLimits, _from_dict(cls, data))


def _from_dict(cls: type, data: dict[str, Any]) -> object:
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} key(s): {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"invalid {cls.__name__}: {exc}") from exc


def read_json_object(path: Path, what: str, error: type[InferperfError]) -> dict[str, Any]:
    """The JSON object in ``path``; a missing, unreadable or non-object file is one ``error`` naming ``what``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a JSON object")
    return data


def load_config_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a JSON config file into (runtime dict, limits dict).

    Accepted forms: ``{"runtime": {...}, "limits": {...}}``, a bare runtime
    config object, or a result document's run (its ``config`` key), so a
    configuration that a later step recommends can be fed straight back.
    """
    data = read_json_object(Path(path), "config file", ConfigError)
    if "runtime" in data or "limits" in data:
        return dict(data.get("runtime") or {}), dict(data.get("limits") or {})
    if "config" in data and isinstance(data["config"], dict):
        return dict(data["config"]), {}
    return data, {}


@dataclass(frozen=True)
class QuantizeOptions:
    """How to quantize. ``auto`` choices are made by the backend, by measuring where it can."""

    method: str = "auto"  # static (calibrated activations) | dynamic (weights only, transformer MatMuls) | auto
    preset: str = "performance"  # NNCF: performance (symmetric) | mixed (asymmetric activations)
    subset_size: int = 300
    transformer: bool = False
    ignored: tuple[str, ...] = ()
    activation_type: str = "auto"  # ONNX Runtime static: u8 | s8 | auto (measure both, keep the faster)
    accuracy_control: bool = True  # NNCF: also try quantize_with_accuracy_control when labels exist
    max_drop: float = 0.01  # the drop accuracy control aims for (the guard still checks on held-out data)

    def __post_init__(self) -> None:
        _check_choice("quantization method", self.method, ("auto", "static", "dynamic"))
        _check_choice("preset", self.preset, ("performance", "mixed"))
        _check_choice("activation type", self.activation_type, ("auto", "u8", "s8"))
        _check_positive("subset size", self.subset_size)


@dataclass(frozen=True)
class Knob:
    """One tunable runtime setting and the values worth trying on this machine.

    ``name`` is a RuntimeConfig field, or ``property:KEY`` for a free-form runtime
    property. ``None`` among the choices means "leave the runtime's default".
    """

    name: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise ConfigError(f"knob {self.name!r} has no choices")
        if not self.name.startswith("property:") and self.name not in {f.name for f in fields(RuntimeConfig)}:
            raise ConfigError(f"knob {self.name!r} is neither a runtime setting nor property:KEY")

    def apply(self, config: RuntimeConfig, value: Any) -> RuntimeConfig:
        """``config`` with this knob set to ``value``."""
        if self.name.startswith("property:"):
            key = self.name.partition(":")[2]
            props = {k: v for k, v in config.properties.items() if k != key}
            if value is not None:
                props[key] = str(value)
            return config.with_(properties=props)
        return config.with_(**{self.name: value})


OBJECTIVES: tuple[str, ...] = ("throughput", "latency")


@dataclass(frozen=True)
class TuneOptions(JsonRecord):
    """How to search: objective, budgets (constraints) and the time the search may take.

    ``p99_max_ms`` is met only when the upper end of a configuration's p99
    interval is under it; ``memory_max_mb`` bounds the trial process's peak RSS.
    """

    objective: str = "throughput"
    p99_max_ms: float | None = None
    memory_max_mb: float | None = None
    budget_s: float = 300.0
    trial_s: float = 2.0
    front: bool = False  # multi-objective NSGA-II (throughput vs p99) instead of single-objective TPE
    seed: int = 0
    finalists: int = 3
    max_trials: int | None = None
    trial_timeout_s: float = 180.0
    round_s: float | None = None  # verification round length; default max(2 s, trial_s)

    def __post_init__(self) -> None:
        _check_choice("objective", self.objective, OBJECTIVES)
        for name in ("p99_max_ms", "memory_max_mb", "budget_s", "trial_s", "max_trials", "trial_timeout_s", "round_s"):
            _check_positive(name.replace("_", " "), getattr(self, name))
        if self.finalists < 1:
            raise ConfigError(f"invalid finalists {self.finalists}: must be >= 1")


_UNITS_S = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_UNITS_MB = {"b": 1 / 2**20, "kb": 1 / 1024, "k": 1 / 1024, "mb": 1.0, "m": 1.0, "gb": 1024.0, "g": 1024.0}


def _amount(text: str, units: dict[str, float], default_unit: str, what: str) -> float:
    import re

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    unit = (match.group(2).lower() if match else "") or default_unit
    if match is None or unit not in units:
        raise ConfigError(f"bad {what} {text!r}: expected a number with a unit ({', '.join(units)})")
    value = float(match.group(1)) * units[unit]
    if value <= 0:
        raise ConfigError(f"bad {what} {text!r}: must be > 0")
    return value


def parse_seconds(text: str, what: str = "duration") -> float:
    """``90``, ``90s``, ``5m``, ``1.5h`` → seconds (a bare number is seconds)."""
    return _amount(text, _UNITS_S, "s", what)


def parse_milliseconds(text: str, what: str = "latency") -> float:
    """``30ms``, ``0.03s``, ``30`` → milliseconds (a bare number is milliseconds)."""
    return _amount(text, _UNITS_S, "ms", what) * 1e3


def parse_slo_ms(text: str, what: str = "SLO") -> float:
    """``500ms``, ``0.5s`` → milliseconds. A unit is required: a bare 500 reads as ms to one person and
    as s to another, and an SLO off by 1000x passes or fails everything silently."""
    import re

    if re.fullmatch(r"\s*[0-9]*\.?[0-9]+\s*", text):
        raise ConfigError(f"bad {what} {text!r}: give a unit, e.g. {text.strip()}ms or {text.strip()}s")
    return parse_milliseconds(text, what)


def parse_megabytes(text: str, what: str = "memory") -> float:
    """``2GB``, ``512MB``, ``512`` → MiB (a bare number is MiB; units are binary)."""
    return _amount(text, _UNITS_MB, "mb", what)


def parse_fraction(text: str, what: str = "fraction") -> float:
    """``5%`` or ``0.05`` → 0.05."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"bad {what} {text!r}: expected a percentage like 5% or a fraction like 0.05") from None
    if not 0 <= value < 10:
        raise ConfigError(f"bad {what} {text!r}: out of range")
    return value


@dataclass(frozen=True)
class OptimizeOptions(JsonRecord):
    """The whole flow's knobs: data for the accuracy guard, budgets, and where to write."""

    data: str | None = None
    p99_max_ms: float | None = None
    memory_max_mb: float | None = None
    max_drop: float = 0.01
    budget_s: float = 600.0
    backends: tuple[str, ...] = ("openvino", "onnxruntime")
    verify_rounds: int = 6
    verify_round_s: float = 3.0
    time_scale: float = 1.0  # multiplies every measuring time (tests and quick looks use < 1)
    shapes: str | None = None  # --shapes: every step on one seeded shape stream, the varying dims open
    shape_histogram: str | None = None
    stream: int = 32

    def __post_init__(self) -> None:
        _check_positive("budget", self.budget_s)
        _check_positive("time scale", self.time_scale)
        _check_positive("p99 max", self.p99_max_ms)
        _check_positive("memory max", self.memory_max_mb)
        if not 0 <= self.max_drop < 1:
            raise ConfigError(f"invalid max drop {self.max_drop!r}: expected a fraction in [0, 1)")
        if self.verify_rounds < 2:
            raise ConfigError("verification needs at least 2 rounds")
        if self.shapes is None and self.shape_histogram is not None:
            raise ConfigError("`shape_histogram` needs `shapes` with a range")
        if self.stream < 2:
            raise ConfigError(f"invalid `stream` {self.stream}: at least 2 inputs")
