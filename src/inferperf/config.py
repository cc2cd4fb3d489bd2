"""Typed, frozen, validated configuration objects.

The CLI parses its options once into these; nothing below the CLI sees an
argument namespace. Every object round-trips through a plain dict, which is
what ``--config FILE`` reads and what result documents record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

from inferperf.errors import ConfigError

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
class RuntimeConfig:
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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuntimeConfig:
        """Build from a dict; unknown keys are an error so typos do not pass silently."""
        return cast(RuntimeConfig, _from_dict(cls, data))


@dataclass(frozen=True)
class RunLimits:
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
    repeats: int = 1

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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with every field."""
        return asdict(self)

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


def load_config_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a JSON config file into (runtime dict, limits dict).

    Accepted forms: ``{"runtime": {...}, "limits": {...}}``, a bare runtime
    config object, or a result document's run (its ``config`` key), so a
    configuration that a later step recommends can be fed straight back.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read config file {p}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a JSON object")
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
