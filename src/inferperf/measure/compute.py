"""FLOPs of a model at its shapes, and a run's effective rate against this machine's measured peak."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from inferperf.backends import get_backend
from inferperf.errors import InferperfError
from inferperf.model import ModelInfo
from inferperf.model.flops import FlopCount
from inferperf.results.schema import RunResult


def count_macs_any(info_: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> tuple[FlopCount | None, str]:
    """MACs from the first backend that can count them (OpenVINO resolves more shapes), else ONNX."""
    from inferperf.backends import backend_names
    from inferperf.model.flops import count_macs

    for name in backend_names():
        try:
            count = get_backend(name).count_macs(info_, shapes)
        except InferperfError:
            continue
        if count is not None:
            return count, f"{name} graph"
    if info_.format != "onnx":
        return None, "no installed runtime can count FLOPs of an OpenVINO IR"
    return count_macs(info_.path, shapes), "ONNX shape inference"


def macs_per_item(info_: ModelInfo, shapes: dict[str, tuple[int, ...]], batch: int) -> int | None:
    try:
        count, _ = count_macs_any(info_, shapes)
    except InferperfError:
        return None
    return count.macs // batch if count is not None and count.macs and count.exact else None


def runtime_versions(environment: Mapping[str, Any]) -> dict[str, str]:
    # Package versions as collect_environment reads them (before backends add their build strings).
    from inferperf.backends import PEAK_PACKAGES
    from inferperf.measure.environment import package_versions

    return {k: v for k, v in package_versions().items() if k in PEAK_PACKAGES}


_NOTE = (
    "model FLOPs (2 x MACs of Conv/MatMul/Gemm) / time; fast algorithms (Winograd) can exceed a matmul-measured peak"
)


class _Peak(TypedDict, total=False):
    peak_gflops: float


class ComputeFields(_Peak):
    """A run's effective compute rate and its fraction of the measured peak of the precision it ran
    (a suite's INT8 cell adds its fraction of the INT8 peak)."""

    flops_per_item: int
    effective_gflops: dict[str, Any]  # value and ci95 (an unbounded end is None)
    note: str
    fraction_of_peak: float | None
    peak_source: str


def compute_fields(run: RunResult, macs: int, peak: dict[str, Any] | None) -> ComputeFields:
    """Effective GFLOP/s (model FLOPs x throughput) and its fraction of the measured matmul peak."""
    tput = run.throughput_fps
    lo, hi = tput["ci95"]
    scale = 2 * macs / 1e9
    rate = {"value": tput["value"] * scale, "ci95": [lo * scale, hi * scale if hi is not None else None]}
    # The fraction is taken against the peak of the precision the run executed: a bf16 run against an
    # f32 peak would read as up to twice the hardware's use.
    executed = run.effective.get("executed_precision") or "f32"
    label = "bf16" if executed == "bf16" else "fp32"
    found = (peak or {}).get(f"{label}_peak_gflops")
    return {
        "flops_per_item": 2 * macs,
        "effective_gflops": rate,
        "note": _NOTE,
        **(_Peak(peak_gflops=found) if found else _Peak()),
        "fraction_of_peak": rate["value"] / found if found else None,
        "peak_source": f"inferperf doctor (cached {label.upper()} matmul peak; the run executed {executed})"
        if found
        else f"no {label.upper()} peak measured: run 'inferperf doctor' once to measure this machine's peak",
    }
