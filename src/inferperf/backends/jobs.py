"""What a backend is asked to do, as one object per kind of work.

The public methods of ``Backend`` (``compile``, ``compile_dynamic``, ``quantize``) keep their keyword
signatures for callers and hand each runtime one of these: a new question for every compile lands here and
in the one public signature, not in every runtime's override.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from inferperf.config import QuantizeOptions, RuntimeConfig
from inferperf.model.info import ModelInfo

InputSet = dict[str, np.ndarray]
# A dimension to compile for: a fixed size, or (low, high) sizes where high None means unbounded.
DimBound = int | tuple[int, int | None]
_Dims = TypeVar("_Dims")


@dataclass(frozen=True)
class CompileJob(Generic[_Dims]):
    """One compile a backend is asked for: the model, each input's dims, the config, the phase hook."""

    model: ModelInfo
    shapes: dict[str, _Dims]  # static: sizes; open (compile_dynamic): a size or a (low, high) range per dim
    config: RuntimeConfig
    on_phase: Callable[[str], None] | None = None

    def read_done(self) -> None:
        """Between reading and compiling: memory tracing samples here (runtimes doing both at once skip it)."""
        if self.on_phase is not None:
            self.on_phase("read")


StaticJob = CompileJob[tuple[int, ...]]
OpenJob = CompileJob[tuple[DimBound, ...]]


@dataclass(frozen=True)
class QuantizeJob:
    """One quantization a backend is asked for; ``labels`` (of the calibration samples) enable
    accuracy-aware methods where a backend has them."""

    model: ModelInfo
    calibration: Sequence[InputSet]
    out_dir: Path
    options: QuantizeOptions
    labels: Sequence[int] | None = None


Candidates = list[tuple[Path, str, dict[str, Any]]]
"""INT8 candidates a backend wrote: (path, label, details)."""
