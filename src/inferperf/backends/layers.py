"""Per-layer profiling: what a backend hands back, in runtime-neutral terms.

A backend turns its runtime's own counters (OpenVINO's PERF_COUNT, ONNX
Runtime's profiler) into these records; everything downstream (aggregation,
precision report, diagnosis, comparison) reads only them. The backend is the
one that knows its runtime's naming, so it decides each layer's precision,
whether its kernel is a slow path, and what kind of work the layer does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from inferperf.jsonform import JsonRecord

InputSet = dict[str, np.ndarray]
Category = Literal["compute", "memory", "elementwise", "other"]

# Ops whose cost is moving bytes, not arithmetic (ONNX and OpenVINO spellings; CPU-plugin internals too).
MEMORY_OPS = frozenset(
    {
        "Reshape",
        "Transpose",
        "Concat",
        "Split",
        "VariadicSplit",
        "Slice",
        "StridedSlice",
        "Gather",
        "GatherElements",
        "GatherND",
        "ScatterUpdate",
        "ScatterElementsUpdate",
        "ScatterNDUpdate",
        "Reorder",
        "ReorderInput",
        "ReorderOutput",
        "Copy",
        "MemcpyToHost",
        "MemcpyFromHost",
        "Pad",
        "Tile",
        "Broadcast",
        "Expand",
        "Squeeze",
        "Unsqueeze",
        "Flatten",
        "Convert",
        "Cast",
        "DepthToSpace",
        "SpaceToDepth",
        "ShuffleChannels",
        "Identity",
    }
)
# Ops that carry most of a network's arithmetic (and are what quantization is for).
COMPUTE_OPS = frozenset(
    {
        "Convolution",
        "GroupConvolution",
        "ConvolutionBackpropData",
        "GroupConvolutionBackpropData",
        "Conv",
        "ConvTranspose",
        "FusedConv",
        "NchwcConv",
        "QLinearConv",
        "ConvInteger",
        "MatMul",
        "FullyConnected",
        "FullyConnectedQuantizedLegacy",
        "FullyConnectedQuantized",
        "Gemm",
        "FusedGemm",
        "FusedMatMul",
        "QGemm",
        "QLinearMatMul",
        "MatMulInteger",
        "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul",
        "Attention",
        "MultiHeadAttention",
        "ScaledDotProductAttention",
        "Einsum",
    }
)
ELEMENTWISE_OPS = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "Sigmoid",
        "Tanh",
        "Gelu",
        "Erf",
        "Clip",
        "Eltwise",
        "Subgraph",
        "BiasGelu",
        "FastGelu",
        "QuickGelu",
        "FakeQuantize",
        "QuantizeLinear",
        "DequantizeLinear",
        "DynamicQuantizeLinear",
    }
)


def categorize(op_type: str) -> Category:
    """Coarse kind of work an op type does, from its name (ONNX, OpenVINO and ORT-fused names)."""
    if op_type in COMPUTE_OPS:
        return "compute"
    if op_type in MEMORY_OPS:
        return "memory"
    if op_type in ELEMENTWISE_OPS:
        return "elementwise"
    return "other"


@dataclass(frozen=True)
class LayerInfo(JsonRecord):
    """One executed layer, as the runtime named and ran it."""

    name: str
    op_type: str
    kernel: str  # OpenVINO exec type (jit_avx512_I8, ref_any_f32, ...); ORT: the provider's op kernel
    precision: str  # f32, bf16, f16, int8, i32, ... or "unknown"
    provider: str  # device or execution provider
    category: Category
    slow_path: str | None = None  # why this kernel is a known slow path (reference code), else None


@dataclass(frozen=True)
class LayerRun:
    """Raw layer timings from one compiled model, in blocks of consecutive inferences.

    ``times_ms[i][j]`` is layer ``j``'s mean time over block ``i``, which spans
    ``block_sizes[i]`` inferences. Runtimes that time every inference (ONNX
    Runtime) give blocks of one; OpenVINO's CPU plug-in only reports a running
    average per layer, so its blocks are the runs between two readings.
    ``latency_ms`` holds every recorded inference's latency, in order.
    """

    backend: str
    layers: tuple[LayerInfo, ...]
    times_ms: list[list[float]]
    block_sizes: list[int]
    latency_ms: list[float]
    latency_source: str
    first_inference_ms: float
    effective: dict[str, Any]
    skipped: dict[str, int] = field(default_factory=dict)  # layers that did not run (fused, optimized out)
    requests: int = 1
    streams: int | None = None
    optimal_requests: int | None = None
    notes: tuple[str, ...] = ()


class LayerProfiler(ABC):
    """A model compiled with its runtime's per-layer counters on.

    ``run`` may be called many times (so two profilers can be interleaved,
    A B A B, and drift hits both); ``result`` gathers every recorded inference.
    """

    @abstractmethod
    def first_inference(self, inputs: InputSet) -> float:
        """Run and time the very first inference (ms); it is never part of the steady state."""

    @abstractmethod
    def run(self, input_sets: Sequence[InputSet], iterations: int, *, record: bool = True) -> None:
        """Run ``iterations`` synchronous inferences rotating through ``input_sets``; keep them if ``record``."""

    @abstractmethod
    def result(self) -> LayerRun:
        """Every recorded inference's layer times and latency (call once, after the last ``run``)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most runtimes free on GC
        """Release runtime resources early."""
