"""Several backends on one model: do they compute the same thing, and how much faster is each?

A speed-up is only worth reporting for the same answer, so ``cross_check`` runs one identical input
set through every backend and compares each output with the first backend's (max absolute
difference, relative to the reference's largest magnitude, and cosine similarity): a faster wrong
answer is flagged, not celebrated. ``backend_ratios`` compares the measured runs with the first
backend's, per scenario, with block-bootstrap intervals (samples within a run are correlated).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NotRequired, TypedDict

import numpy as np

from inferperf.backends.base import Backend, InputSet
from inferperf.config import RuntimeConfig
from inferperf.errors import InferperfError
from inferperf.model.info import ModelInfo
from inferperf.results.schema import RunResult
from inferperf.stats import bootstrap_ratio_ci, window_rates

# (relative max-abs tolerance, minimum cosine) by the precision the runs were asked for. Independent
# f32 kernels (Winograd, different accumulation orders) differ by ~1e-5 of the output scale;
# bf16/f16 by ~1e-2.
_TOLERANCE = {"f32": (1e-3, 0.9999), "reduced": (5e-2, 0.999)}


class OutputAgreement(TypedDict):
    """One output of a backend against the reference's (the figures are absent where shapes or values
    could not be compared: ``reason`` says why)."""

    shape: list[int]
    agree: bool
    other_shape: NotRequired[list[int]]
    reason: NotRequired[str]
    max_abs_diff: NotRequired[float]
    max_abs_ref: NotRequired[float]
    max_abs_diff_rel: NotRequired[float]
    cosine: NotRequired[float]
    reference_name: NotRequired[str]
    name: NotRequired[str]


class Pair(TypedDict):
    """One backend's outputs against the reference backend's, matched by position."""

    backend: str
    agree: bool
    reason: NotRequired[str]
    outputs: NotRequired[list[OutputAgreement]]


class CrossCheck(TypedDict):
    """Every backend's outputs on one input set against the first backend's that ran."""

    reference: str | None
    agree: bool | None
    pairs: list[Pair]
    errors: list[dict[str, str]]
    tolerance: dict[str, float]
    input_set: NotRequired[str]
    precisions: NotRequired[dict[str, str]]
    note: NotRequired[str | None]
    method: NotRequired[str]


class BackendRatio(TypedDict):
    """Another backend's throughput and median latency over the baseline's, with intervals."""

    backend: str
    throughput_ratio: dict[str, Any]
    latency_median_ratio: dict[str, Any]
    compile_ms: float | None


def tolerance_for(precision: str | None) -> dict[str, float]:
    """The agreement thresholds for runs asked to compute in ``precision`` (None means f32)."""
    rel, cos = _TOLERANCE["f32" if precision in (None, "f32") else "reduced"]
    return {"max_abs_diff_rel": rel, "cosine_min": cos}


def compare_arrays(ref: np.ndarray, other: np.ndarray, tol: dict[str, float]) -> OutputAgreement:
    """Max abs difference (absolute and relative to max |ref|) and cosine of two outputs, and the verdict."""
    if ref.shape != other.shape:
        return {"shape": list(ref.shape), "other_shape": list(other.shape), "agree": False, "reason": "shapes differ"}
    a, b = ref.astype(np.float64).ravel(), other.astype(np.float64).ravel()
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return {"shape": list(ref.shape), "agree": False, "reason": "non-finite values"}
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    cosine = float(np.dot(a, b) / norm) if norm > 0 else (1.0 if diff == 0 else 0.0)
    rel = diff / scale if scale > 0 else diff
    return {
        "shape": list(ref.shape),
        "max_abs_diff": diff,
        "max_abs_ref": scale,
        "max_abs_diff_rel": rel,
        "cosine": cosine,
        "agree": rel <= tol["max_abs_diff_rel"] and cosine >= tol["cosine_min"],
    }


def _outputs(
    plugin: Backend, info: ModelInfo, shapes: dict[str, tuple[int, ...]], inputs: InputSet, config: RuntimeConfig
) -> tuple[dict[str, np.ndarray], str]:
    cfg = plugin.configure(config.with_(backend=plugin.name), "latency")
    engine = plugin.compile(info, shapes, cfg)
    try:
        return engine.infer(inputs), str(engine.effective().get("executed_precision") or "f32")
    finally:
        engine.close()


def _pair(backend: str, ref: dict[str, np.ndarray], got: dict[str, np.ndarray], tol: dict[str, float]) -> Pair:
    # Output names differ between runtimes (an ONNX "output" is torch's first tensor): match by position.
    if len(ref) != len(got):
        return {"backend": backend, "agree": False, "reason": f"{len(got)} outputs, reference has {len(ref)}"}
    outputs: list[OutputAgreement] = [
        {"reference_name": rn, "name": gn, **compare_arrays(rv, gv, tol)}
        for (rn, rv), (gn, gv) in zip(ref.items(), got.items(), strict=True)
    ]
    return {"backend": backend, "agree": all(o["agree"] for o in outputs), "outputs": outputs}


def cross_check(
    plugins: Sequence[Backend],
    info: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    inputs: InputSet,
    config: RuntimeConfig,
    on_backend: Callable[[str], None] | None = None,
) -> CrossCheck:
    """Every backend's outputs on ``inputs`` against the first backend's that ran (its latency config).

    The tolerance follows the precisions the backends *executed* (read back from each), not the one
    asked for: OpenVINO runs bf16 by default on AMX / AVX-512 BF16 CPUs, and its outputs then differ
    from ONNX Runtime's f32 by bf16's rounding. ``precisions`` names each backend's and ``note`` says
    so in words when they differ.
    """
    results: dict[str, dict[str, np.ndarray]] = {}
    precisions: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    for plugin in plugins:
        if on_backend is not None:
            on_backend(plugin.name)
        try:
            results[plugin.name], precisions[plugin.name] = _outputs(plugin, info, shapes, inputs, config)
        except InferperfError as exc:
            errors.append({"backend": plugin.name, "error": exc.one_line()})
    reduced = sorted({p for p in precisions.values() if p != "f32"})
    tol = tolerance_for(reduced[0] if reduced else config.inference_precision)
    if not results:
        return {"reference": None, "agree": None, "pairs": [], "errors": errors, "tolerance": tol}
    ref_name, ref = next(iter(results.items()))
    pairs = [_pair(name, ref, got, tol) for name, got in results.items() if name != ref_name]
    return {
        "reference": ref_name,
        "input_set": "the first measured input set",
        "tolerance": tol,
        "agree": all(p["agree"] for p in pairs),
        "pairs": pairs,
        "errors": errors,
        "precisions": precisions,
        "note": _precision_note(precisions, config.inference_precision, _largest_diff(pairs)),
        "method": "max |a-b| over all elements (also relative to max |reference|) and cosine similarity of the "
        "flattened outputs, matched by position",
    }


def _largest_diff(pairs: list[Pair]) -> float | None:
    diffs = [d for p in pairs for o in p.get("outputs", []) if (d := o.get("max_abs_diff")) is not None]
    return max(diffs) if diffs else None


def _precision_note(precisions: dict[str, str], asked: str | None, diff: float | None) -> str | None:
    """Plain words when the backends executed different float precisions; None when they all ran the same."""
    if len(set(precisions.values())) <= 1:
        return None
    default = " by default on this CPU" if asked is None else ""
    ran = ", ".join(f"{b} ran {p}{default if p != 'f32' else ''}" for b, p in precisions.items())
    by = f" by up to {diff:.3g}" if diff is not None else ""
    return (
        f"{ran}; outputs differ{by}, compared at the looser tolerance; --infer-precision f32 compares at full precision"
    )


def _ratio(base: RunResult, other: RunResult) -> BackendRatio:
    tput = bootstrap_ratio_ci(
        window_rates(base.samples["completed_at_s"]),
        window_rates(other.samples["completed_at_s"]),
        lambda x: float(np.mean(x)),
    )
    lat = bootstrap_ratio_ci(
        np.asarray(base.samples["latency_ms"]), np.asarray(other.samples["latency_ms"]), lambda x: float(np.median(x))
    )
    value = other.throughput_fps["value"] / base.throughput_fps["value"]
    return {
        "backend": other.backend,
        "throughput_ratio": {"value": value, "ci95": [min(tput.low, value), max(tput.high, value)]},
        "latency_median_ratio": {"value": lat.value, "ci95": [lat.low, lat.high]},
        "compile_ms": other.phases_ms.get("compile"),
    }


def backend_ratios(runs: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Per scenario, each backend against the first one measured: throughput and median-latency ratios.

    Throughput ratio > 1 and latency ratio < 1 mean faster than the baseline.
    """
    out: list[dict[str, Any]] = []
    for scenario in dict.fromkeys(r.scenario for r in runs):
        group = [r for r in runs if r.scenario == scenario]
        if len(group) < 2:
            continue
        base = group[0]
        out.append(
            {
                "scenario": scenario,
                "baseline": base.backend,
                "rows": [_ratio(base, r) for r in group[1:]],
                "ci_method": "block bootstrap of the ratio (40 contiguous blocks; throughput from 40 time-window "
                "rates), percentile interval; runs are sequential unless --repeats interleaves them",
            }
        )
    return out
