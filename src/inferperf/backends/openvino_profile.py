"""OpenVINO's per-layer profile: the CPU plug-in's PERF_COUNT counters read between runs of one request."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from inferperf.backends.base import Engine, InputSet
from inferperf.backends.layers import LayerInfo, LayerProfiler, LayerRun, categorize
from inferperf.errors import BackendError, runtime_cause

# exec-type suffix -> precision: the CPU plug-in names kernels "<impl>_<precision>" (brgconv_avx512_I8).
_OV_PRECISIONS = {
    "i8": "int8",
    "u8": "int8",
    "f32": "f32",
    "fp32": "f32",
    "bf16": "bf16",
    "f16": "f16",
    "fp16": "f16",
    "i32": "i32",
    "i64": "i64",
    "u4": "int4",
    "i4": "int4",
}


def ov_precision(exec_type: str) -> str:
    """The precision a layer ran in, read from its OpenVINO execution type."""
    return _OV_PRECISIONS.get(exec_type.rsplit("_", 1)[-1].lower(), "unknown")


def ov_slow_path(exec_type: str, op_type: str) -> str | None:
    """Why a kernel is a slow path, or None. ``ref*`` kernels are OpenVINO's plain C++ reference code.

    Data-movement ops (Concat, Reshape, ...) are exempt: their "ref" kernel is a memory copy, as fast as any.
    """
    if exec_type.startswith("ref") and categorize(op_type) != "memory":
        return f"reference kernel {exec_type} (unvectorized C++ fallback)"
    return None


class OpenVINOLayerProfiler(LayerProfiler):
    """Synchronous inferences on one request, with the CPU plug-in's per-layer counters read between runs.

    The plug-in reports, per layer, the running average over every inference since compilation
    (integer microseconds), not the last inference's time. Average x count is the layer's total, so
    reading it before and after a run gives the run's exact mean per layer (to a microsecond); reading
    after every inference would not (the rounding grows with the count).
    """

    def __init__(
        self, engine: Engine, request: Any, tensors: Callable[[InputSet], dict[int, Any]], device: str
    ) -> None:
        self._engine = engine
        self._request = request  # the engine's synchronous request, compiled with PERF_COUNT on
        self._tensors = tensors
        self._device = device
        self._count = 0  # inferences since compilation, the plug-in's averaging denominator
        self._layers: dict[str, LayerInfo] = {}
        self._blocks: list[dict[str, float]] = []
        self._sizes: list[int] = []
        self._latency: list[float] = []
        self._skipped: dict[str, int] = {}
        self._first = math.nan

    def _infer(self, tensors: dict[int, Any]) -> None:
        try:
            self._request.set_input_tensors(tensors)
            self._request.infer()
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO inference failed: {runtime_cause(exc)}") from exc
        self._count += 1

    def first_inference(self, inputs: InputSet) -> float:
        tensors = self._tensors(inputs)
        t0 = time.perf_counter()
        self._infer(tensors)
        self._first = (time.perf_counter() - t0) * 1e3
        self._totals()  # which layers run: read now, while every average is still above the rounding
        return self._first

    def run(self, input_sets: Sequence[InputSet], iterations: int, *, record: bool = True) -> None:
        tensors = [self._tensors(s) for s in input_sets]
        n0, before = self._count, self._totals() if record else {}
        for k in range(iterations):
            self._infer(tensors[k % len(tensors)])
            if record:
                self._latency.append(float(self._request.latency))
        if record and self._count > n0:
            after, n = self._totals(), self._count - n0
            self._blocks.append({name: (total - before.get(name, 0.0)) / n for name, total in after.items()})
            self._sizes.append(n)

    def _totals(self) -> dict[str, float]:
        """Each executed layer's total time (ms) over all inferences so far: running average x count."""
        totals: dict[str, float] = {}
        count_skipped = not self._skipped
        for pi in self._request.get_profiling_info():
            status = getattr(pi.status, "name", str(pi.status))
            # The plug-in reports each layer's running average in whole microseconds, and OpenVINO 2026
            # calls a layer whose average rounds to 0 NOT_RUN: one that ran before still runs.
            if status != "EXECUTED" and str(pi.node_name) not in self._layers:
                if count_skipped:  # the set of layers that never run is fixed at compile time
                    self._skipped[status] = self._skipped.get(status, 0) + 1
                continue
            name = str(pi.node_name)
            if name not in self._layers:
                self._layers[name] = self._describe(pi)
            totals[name] = totals.get(name, 0.0) + pi.real_time.total_seconds() * 1e3 * self._count
        return totals

    def _describe(self, pi: Any) -> LayerInfo:
        op_type, exec_type = str(pi.node_type), str(pi.exec_type)
        return LayerInfo(
            name=str(pi.node_name),
            op_type=op_type,
            kernel=exec_type,
            precision=ov_precision(exec_type),
            provider=self._device,
            category=categorize(op_type),
            slow_path=ov_slow_path(exec_type, op_type),
        )

    def result(self) -> LayerRun:
        names = list(self._layers)
        effective = self._engine.effective()
        streams = _int_or_none(effective.get("NUM_STREAMS"))
        notes = [
            "layer times are PERF_COUNT real_time (on CPU cpu_time equals it), as means over blocks of "
            "inferences: the CPU plug-in reports only a running average per layer",
            "layers that did not run were fused into a neighbour or optimized out at compile time",
            "the plug-in's averages are whole microseconds: a layer under 0.5 us on average reads 0",
        ]
        if streams is not None and streams > 1:
            notes.append(f"{streams} streams: each keeps its own counters, so layer means are approximate")
        return LayerRun(
            backend="openvino",
            layers=tuple(self._layers[n] for n in names),
            times_ms=[[block.get(n, 0.0) for n in names] for block in self._blocks],
            block_sizes=list(self._sizes),
            latency_ms=list(self._latency),
            latency_source="OpenVINO request latency (measured by the runtime, per inference)",
            first_inference_ms=self._first,
            effective=effective,
            skipped=dict(self._skipped),
            requests=1,
            streams=streams,
            optimal_requests=_int_or_none(effective.get("OPTIMAL_NUMBER_OF_INFER_REQUESTS")),
            notes=tuple(notes),
        )

    def close(self) -> None:
        self._engine.close()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
