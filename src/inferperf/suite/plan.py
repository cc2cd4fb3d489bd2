"""What a suite measures: options, the matrix of cells, and the keys that say when a cell can be reused."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from inferperf.config import MODES, RunLimits, RuntimeConfig
from inferperf.errors import ConfigError
from inferperf.jsonform import JsonRecord

FP32 = "fp32"
INT8 = "int8"
DEFAULT_QUANTIZER = "onnxruntime"  # its QDQ ONNX loads in both ONNX Runtime and OpenVINO


@dataclass(frozen=True)
class SuiteOptions(JsonRecord):
    """A benchmark matrix: models x variants x backends, each cell measured in the given modes."""

    models: tuple[str, ...] = ("builtin",)
    backends: tuple[str, ...] = ("openvino", "onnxruntime")
    variants: tuple[str, ...] = (FP32,)
    modes: tuple[str, ...] = ("latency", "throughput")
    out: Path = Path("inferperf-suite")
    resume: bool = False
    reference: str | None = None  # "BACKEND:VARIANT"; default: the first backend's first variant
    limits: RunLimits = field(default_factory=RunLimits)
    config: RuntimeConfig = field(default_factory=RuntimeConfig)
    shape: str | None = None
    seed: int = 0
    quantizer: str = DEFAULT_QUANTIZER
    calibration_samples: int = 32
    record_history: bool = True
    history: Path | None = None  # None: the default history file
    cell_timeout_s: float = 1800.0
    ray_address: str | None = None
    nodes: tuple[str, ...] = ()
    max_attempts: int = 2  # a cell whose node died is tried this many times in all

    def __post_init__(self) -> None:
        if not self.models or not self.backends or not self.variants or not self.modes:
            raise ConfigError("a suite needs at least one model, backend, variant and mode")
        for mode in self.modes:
            if mode not in ("latency", "throughput"):
                raise ConfigError(f"invalid mode {mode!r}: expected latency or throughput")
        for variant in self.variants:
            quantizer_of(variant, self.quantizer)  # validates the name
        if self.max_attempts < 1:
            raise ConfigError("max attempts must be >= 1")
        if self.calibration_samples < 2:
            raise ConfigError("calibration needs at least 2 samples")
        if self.reference is not None:
            parse_reference(self.reference, self)

    @property
    def mode(self) -> str:
        """The bench mode that covers every requested scenario."""
        wanted = set(self.modes)
        return next(name for name, scen in MODES.items() if set(scen) == wanted)


def quantizer_of(variant: str, default: str) -> str | None:
    """None for fp32; the backend that quantizes an int8 variant (``int8`` or ``int8-BACKEND``)."""
    if variant == FP32:
        return None
    if variant == INT8:
        return default
    if variant.startswith(INT8 + "-") and len(variant) > len(INT8) + 1:
        return variant[len(INT8) + 1 :]
    raise ConfigError(f"invalid variant {variant!r}: expected fp32, int8 or int8-BACKEND (e.g. int8-openvino)")


def parse_reference(text: str, options: SuiteOptions) -> tuple[str, str]:
    """``BACKEND:VARIANT`` (or just BACKEND, meaning its first variant) -> (backend, variant)."""
    backend, _, variant = text.partition(":")
    variant = variant or options.variants[0]
    if backend not in options.backends or variant not in options.variants:
        raise ConfigError(
            f"invalid --reference {text!r}: expected BACKEND:VARIANT from the suite's "
            f"backends ({', '.join(options.backends)}) and variants ({', '.join(options.variants)})"
        )
    return backend, variant


def reference_of(options: SuiteOptions) -> tuple[str, str]:
    """The reference column: the chosen one, or the first backend's first variant."""
    if options.reference:
        return parse_reference(options.reference, options)
    return options.backends[0], options.variants[0]


def slug(text: str) -> str:
    """A file-name-safe form of a model spec or name."""
    name = Path(text).stem if ("/" in text or text.endswith((".onnx", ".xml"))) else text
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "model"


@dataclass(frozen=True)
class Cell:
    """One model variant on one backend: measured by one bench run, saved as one result file."""

    model: str
    variant: str
    backend: str

    @property
    def name(self) -> str:
        """Stable id, also the result file's stem."""
        return f"{slug(self.model)}__{self.variant}__{self.backend}"

    def label(self) -> str:
        """Human-readable form."""
        return f"{self.model} {self.variant} on {self.backend}"

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"model": self.model, "variant": self.variant, "backend": self.backend, "name": self.name}


def cells(options: SuiteOptions) -> list[Cell]:
    """The matrix in measuring order: model by model, so a model's variants are made just before use."""
    from inferperf.model.zoo import is_generative

    out = []
    for m in options.models:
        # A decoder LLM runs on the generative backend, once per variant, whatever the CNNs' backends are.
        backends = ("openvino-genai",) if is_generative(m) else options.backends
        out += [Cell(m, v, b) for v in options.variants for b in backends]
    return out


def cell_key(cell: Cell, model_sha256: str, options: SuiteOptions) -> str:
    """What must match for a measured cell to be reused by --resume (besides the environment)."""
    payload = {
        "cell": cell.to_dict(),
        "model_sha256": model_sha256,
        "mode": options.mode,
        "config": options.config.to_dict(),
        "limits": options.limits.to_dict(),
        "shape": options.shape,
        "seed": options.seed,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:16]


class Job(TypedDict, total=False):
    """A cell's job as its worker gets it (plain JSON: it crosses a pipe or a Ray cluster). A bench cell's
    holds its run settings; an LLM cell's (task ``suite-llm-cell``) its ``generate`` options. The runner
    adds the cell's key and the files a node without them is sent."""

    task: str
    model: str
    backend: str
    timeout_s: float
    mode: str
    config: dict[str, Any]
    limits: dict[str, Any]
    shape: str | None
    seed: int
    int8: bool
    generate: dict[str, Any]
    suite_key: str
    files: list[str]
    sha256: str


def cell_job(cell: Cell, model_path: str, options: SuiteOptions) -> Job:
    """The bench job a worker runs for ``cell`` (plain JSON: it crosses a pipe or a Ray cluster)."""
    return {
        "task": "suite-cell",
        "model": model_path,
        "backend": cell.backend,
        "mode": options.mode,
        "config": options.config.with_(backend=cell.backend).to_dict(),
        "limits": options.limits.to_dict(),
        "shape": options.shape,
        "seed": options.seed,
        "timeout_s": options.cell_timeout_s,
        "int8": cell.variant != FP32,
    }
