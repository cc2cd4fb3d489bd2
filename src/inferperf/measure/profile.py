"""Per-layer profiles: collect from a backend's LayerProfiler, aggregate, report precision, compare.

Collection runs many inferences (never one: a single inference's counters
swing by tens of percent here) and keeps every inference's layer times.
Aggregates are derived from those raw rows: per layer (mean, median, p90,
share of the summed layer time), per op type, per precision, and the sum of
layer times against the latency of the same inferences, so the gap (runtime
overhead, waiting, the Python call) is read from one set of inferences.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.layers import InputSet, LayerProfiler, LayerRun
from inferperf.errors import ConfigError
from inferperf.stats import Estimate, quantile_ci, ratio_of_medians_ci

LOW_PRECISION = ("int8", "int4")
FLOAT_PRECISION = ("f32", "bf16", "f16", "f64")
QUANTIZE_OPS = ("FakeQuantize", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")
_CHUNK_S = 0.2  # interleaving granularity: short enough that drift hits A and B alike


# --- the sections a profile document holds (JSON objects, typed where they are built) -------------


class LatencyFigure(Estimate):
    """The latency of the profiled inferences: median (with interval), mean and p90."""

    mean: float
    p90: float


class Totals(TypedDict):
    """Mean summed layer time against the latency of the same inferences."""

    layer_sum_ms: float
    latency_ms: LatencyFigure
    latency_source: str
    gap_ms: float
    gap_share: float
    layer_sum_over_latency_median: float
    first_inference_ms: float
    method: str


class FloatComputeLayer(TypedDict):
    """A compute layer left in float in a quantized model."""

    name: str
    op_type: str
    precision: str
    kernel: str
    mean_ms: float
    share_of_compute: float


class PrecisionReport(TypedDict):
    """Time by precision, overall and over compute layers."""

    by_precision: list[dict[str, Any]]
    compute_share_by_precision: dict[str, float]
    quantized: bool
    low_precision_compute_share: float
    float_compute_share: float
    float_compute_layers: list[FloatComputeLayer]


class Samples(TypedDict):
    """The raw rows every aggregate is derived from (and a comparison resamples)."""

    latency_ms: list[float]
    layer_names: list[str]
    block_sizes: list[int]
    layer_ms: list[list[float]]


class Summary(TypedDict):
    """One model's per-layer profile: the ``profile`` section of its document."""

    backend: str
    iterations: int
    blocks: int
    layers: list[dict[str, Any]]  # LayerInfo's fields + mean_ms, median_ms, p90_ms, share
    by_op_type: list[dict[str, Any]]
    by_category: list[dict[str, Any]]
    totals: Totals
    precision: PrecisionReport
    skipped_layers: dict[str, int]
    effective: dict[str, Any]
    requests: int
    streams: int | None
    optimal_requests: int | None
    notes: list[str]
    samples: Samples


class ReferenceGap(TypedDict, total=False):
    """Summed layer time against a latency-mode median measured with the counters off."""

    latency_median_ms: float
    layer_sum_ms: float
    gap_ms: float
    layer_sum_over_latency: float
    profiling_overhead: float
    latency_median_ci95: list[float]  # added by the command, with the count, from the reference run
    count: int


class Speedup(Estimate, total=False):
    """A ratio A / B with its interval (and how it was computed, where said)."""

    method: str


class PairRow(TypedDict, total=False):
    """One matched layer pair of a comparison (either side may be missing)."""

    name: str | None
    name_b: str | None
    op_type: str | None
    a_ms: float | None
    b_ms: float | None
    a_share: float | None
    a_precision: str | None
    b_precision: str | None
    a_kernel: str | None
    b_kernel: str | None
    speedup: Speedup | None
    saved_ms: float


class GroupRow(TypedDict):
    """An op type's summed time in A and B."""

    op_type: str
    a_ms: float | None
    b_ms: float | None
    speedup: float | None


class Comparison(TypedDict):
    """Two profiles layer by layer: the ``comparison`` section of a profile-compare document."""

    rows: list[PairRow]
    latency_speedup: Speedup
    layer_sum_speedup: float
    by_op_type: list[GroupRow]
    faster: int
    not_faster: list[str | None]
    only_a: list[str | None]
    only_b: list[str | None]
    faster_at: float
    method: str


class ScalingRow(TypedDict):
    """An op type's time at each shape group and its growth exponent against the input's size."""

    op_type: str
    mean_ms: list[float]
    share: list[float]
    growth_exponent: float | None


@dataclass(frozen=True)
class ProfileLimits:
    """How long to profile each model."""

    seconds: float = 5.0
    warmup_s: float = 1.0
    min_iterations: int = 10
    max_iterations: int = 2000

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.warmup_s < 0:
            raise ConfigError("profile time must be > 0 s and warm-up >= 0 s")
        if not 1 <= self.min_iterations <= self.max_iterations:
            raise ConfigError("profile iterations: need 1 <= min_iterations <= max_iterations")


def collect(
    profilers: Sequence[LayerProfiler],
    input_sets: Sequence[InputSet],
    limits: ProfileLimits,
    progress: Callable[[str], None] | None = None,
) -> list[LayerRun]:
    """Profile one or more compiled models; with several, in interleaved chunks (A B A B ...)."""
    for p in profilers:
        p.first_inference(input_sets[0])
    chunks = [_warm_up(p, input_sets, limits.warmup_s) for p in profilers]
    counts = [0] * len(profilers)
    t0 = time.perf_counter()
    while not _done(counts, time.perf_counter() - t0, limits, len(profilers)):
        for i, p in enumerate(profilers):
            n = min(chunks[i], limits.max_iterations - counts[i])
            p.run(input_sets, n)
            counts[i] += n
        if progress is not None:
            progress(f"{min(counts)} profiled inferences each")
    return [p.result() for p in profilers]


def _warm_up(profiler: LayerProfiler, input_sets: Sequence[InputSet], seconds: float) -> int:
    """Run unrecorded inferences for ``seconds``; returns how many make one interleaving chunk."""
    n, t0 = 0, time.perf_counter()
    while True:
        profiler.run(input_sets, 1, record=False)
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    return max(1, min(200, int(_CHUNK_S / (elapsed / n))))


def _done(counts: list[int], elapsed: float, limits: ProfileLimits, models: int) -> bool:
    if max(counts) >= limits.max_iterations:
        return True
    return elapsed >= limits.seconds * models and min(counts) >= limits.min_iterations


def _ci(samples: np.ndarray) -> Estimate:
    interval = quantile_ci(samples, 0.5)
    return {"value": interval.value, "ci95": [interval.low, interval.high]}


def summarize_run(run: LayerRun) -> Summary:
    """Per-layer, per-op-type and total figures from a LayerRun's raw blocks."""
    if not run.times_ms or not run.layers:
        raise ConfigError(f"{run.backend} reported no executed layers: nothing to profile")
    times = np.asarray(run.times_ms, dtype=np.float64)
    weights = np.asarray(run.block_sizes, dtype=np.float64)
    # OpenVINO reports each layer's running average in whole microseconds, and block times are
    # differences of average x count: a sub-microsecond layer can come out slightly negative, which
    # pushed other op types' shares above 1 on tiny bf16 models. No layer takes negative time.
    means = np.maximum(weights @ times / weights.sum(), 0.0)
    per_inference = bool(np.all(weights == 1))  # medians and tails need one row per inference
    total = float(means.sum()) or 1.0
    layers = []
    for j in np.argsort(-means):
        col = times[:, j]
        layers.append(
            {
                **run.layers[j].to_dict(),
                "mean_ms": float(means[j]),
                "median_ms": float(np.median(col)) if per_inference else None,
                "p90_ms": float(np.percentile(col, 90)) if per_inference else None,
                "share": float(means[j]) / total,
            }
        )
    return {
        "backend": run.backend,
        "iterations": int(weights.sum()),
        "blocks": len(run.block_sizes),
        "layers": layers,
        "by_op_type": group_layers(layers, "op_type"),
        "by_category": group_layers(layers, "category"),
        "totals": totals(float(means.sum()), np.asarray(run.latency_ms, dtype=np.float64), run),
        "precision": precision_report(layers),
        "skipped_layers": run.skipped,
        "effective": run.effective,
        "requests": run.requests,
        "streams": run.streams,
        "optimal_requests": run.optimal_requests,
        "notes": list(run.notes),
        "samples": {
            "latency_ms": [round(float(x), 5) for x in run.latency_ms],
            "layer_names": [layer.name for layer in run.layers],
            "block_sizes": list(run.block_sizes),
            "layer_ms": [[round(float(x), 5) for x in row] for row in run.times_ms],
        },
    }


def totals(layer_sum_ms: float, latency: np.ndarray, run: LayerRun) -> Totals:
    """Mean summed layer time against the latency of the same inferences; the gap is time outside the layers."""
    mean_latency = float(latency.mean()) if latency.size else math.nan
    median: Estimate = _ci(latency) if latency.size else {"value": math.nan, "ci95": [math.nan, math.nan]}
    gap = mean_latency - layer_sum_ms
    return {
        "layer_sum_ms": layer_sum_ms,
        "latency_ms": {
            "value": median["value"],
            "ci95": median["ci95"],
            "mean": mean_latency,
            "p90": float(np.percentile(latency, 90)),
        },
        "latency_source": run.latency_source,
        "gap_ms": gap,
        "gap_share": gap / mean_latency if mean_latency > 0 else math.nan,
        "layer_sum_over_latency_median": layer_sum_ms / median["value"] if median["value"] > 0 else math.nan,
        "first_inference_ms": run.first_inference_ms,
        "method": "gap = mean latency - mean summed layer time, over the same inferences",
    }


def group_layers(layers: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Layers summed by ``key`` (op type, category, precision), largest first, with shares."""
    groups: dict[str, dict[str, Any]] = {}
    for layer in layers:
        g = groups.setdefault(
            str(layer[key]), {key: layer[key], "mean_ms": 0.0, "share": 0.0, "layers": 0, "precisions": {}}
        )
        g["mean_ms"] += layer["mean_ms"]
        g["share"] += layer["share"]
        g["layers"] += 1
        g["precisions"][layer["precision"]] = g["precisions"].get(layer["precision"], 0) + 1
    return sorted(groups.values(), key=lambda g: -float(g["mean_ms"]))


def precision_report(layers: list[dict[str, Any]]) -> PrecisionReport:
    """Time by precision, overall and for compute layers; in a quantized model, the compute left in float."""
    compute = [layer for layer in layers if layer["category"] == "compute"]
    compute_ms = sum(layer["mean_ms"] for layer in compute) or 1.0
    by_compute: dict[str, float] = {}
    for layer in compute:
        by_compute[layer["precision"]] = by_compute.get(layer["precision"], 0.0) + layer["mean_ms"] / compute_ms
    # A float model runs some glue in int8 too (OpenVINO's mask Where/Gather on booleans): only
    # compute layers in low precision, or explicit (de)quantize ops, make a model quantized.
    quantized = any(layer["precision"] in LOW_PRECISION for layer in compute) or any(
        layer["op_type"] in QUANTIZE_OPS for layer in layers
    )
    float_compute = [layer for layer in compute if layer["precision"] in FLOAT_PRECISION]
    return {
        "by_precision": group_layers(layers, "precision"),
        "compute_share_by_precision": dict(sorted(by_compute.items(), key=lambda kv: -kv[1])),
        "quantized": quantized,
        "low_precision_compute_share": sum(v for k, v in by_compute.items() if k in LOW_PRECISION),
        "float_compute_share": sum(v for k, v in by_compute.items() if k in FLOAT_PRECISION),
        "float_compute_layers": [
            {
                "name": layer["name"],
                "op_type": layer["op_type"],
                "precision": layer["precision"],
                "kernel": layer["kernel"],
                "mean_ms": layer["mean_ms"],
                "share_of_compute": layer["mean_ms"] / compute_ms,
            }
            for layer in float_compute
        ]
        if quantized
        else [],
    }


def reference_gap(summary: Summary, reference_median_ms: float | None) -> ReferenceGap | None:
    """Summed layer time against a latency-mode median measured with the counters off."""
    if reference_median_ms is None or reference_median_ms <= 0:
        return None
    layer_sum = float(summary["totals"]["layer_sum_ms"])
    return {
        "latency_median_ms": reference_median_ms,
        "layer_sum_ms": layer_sum,
        "gap_ms": reference_median_ms - layer_sum,
        "layer_sum_over_latency": layer_sum / reference_median_ms,
        "profiling_overhead": float(summary["totals"]["latency_ms"]["value"]) / reference_median_ms - 1.0,
    }


# --- comparison -------------------------------------------------------------------------------


def match_layers(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[tuple[int | None, int | None]]:
    """Pairs of layer indices (A, B): by name first, then leftovers by op type in execution order."""
    b_index = {layer["name"]: j for j, layer in enumerate(b)}
    pairs: list[tuple[int | None, int | None]] = []
    used_b: set[int] = set()
    left_a: list[int] = []
    for i, layer in enumerate(a):
        j = b_index.get(layer["name"])
        if j is None:
            left_a.append(i)
        else:
            pairs.append((i, j))
            used_b.add(j)
    # Quantization renames few layers, but fusions can: pair what is left by type, in order.
    left_b: dict[str, list[int]] = {}
    for j, layer in enumerate(b):
        if j not in used_b:
            left_b.setdefault(layer["op_type"], []).append(j)
    for i in left_a:
        queue = left_b.get(a[i]["op_type"])
        pairs.append((i, queue.pop(0) if queue else None))
    pairs += [(None, j) for queue in left_b.values() for j in queue]
    return pairs


def _blocks(summary: Summary, name: str) -> tuple[np.ndarray, np.ndarray]:
    samples = summary["samples"]
    j = samples["layer_names"].index(name)
    values = np.asarray([row[j] for row in samples["layer_ms"]], dtype=np.float64)
    return values, np.asarray(samples["block_sizes"], dtype=np.float64)


def ratio_of_means_ci(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], resamples: int = 500, seed: int = 0
) -> tuple[float, float, float]:
    """Weighted mean of A's blocks over B's, with a percentile-bootstrap interval resampling blocks."""
    rng = np.random.default_rng(seed)

    def boot(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        idx = rng.integers(0, values.size, (resamples, values.size))
        return np.asarray((values[idx] * weights[idx]).sum(axis=1) / weights[idx].sum(axis=1))

    value = float(np.average(a[0], weights=a[1]) / np.average(b[0], weights=b[1]))
    if a[0].size < 2 or b[0].size < 2:
        return value, 0.0, math.inf
    ratios = boot(*a) / boot(*b)
    return value, float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


def _pair_row(a: Summary, b: Summary, la: dict[str, Any] | None, lb: dict[str, Any] | None) -> PairRow:
    row: PairRow = {
        "name": (la or lb or {}).get("name"),
        "name_b": lb["name"] if lb and la and lb["name"] != la["name"] else None,
        "op_type": (la or lb or {}).get("op_type"),
        "a_ms": la["mean_ms"] if la else None,
        "b_ms": lb["mean_ms"] if lb else None,
        "a_share": la["share"] if la else None,
        "a_precision": la["precision"] if la else None,
        "b_precision": lb["precision"] if lb else None,
        "a_kernel": la["kernel"] if la else None,
        "b_kernel": lb["kernel"] if lb else None,
        "speedup": None,
    }
    if la and lb and la["mean_ms"] > 0 and lb["mean_ms"] > 0:
        value, low, high = ratio_of_means_ci(_blocks(a, la["name"]), _blocks(b, lb["name"]))
        row["speedup"] = {"value": value, "ci95": [low, high]}
        row["saved_ms"] = la["mean_ms"] - lb["mean_ms"]
    return row


def compare_profiles(a: Summary, b: Summary, faster_at: float = 1.1) -> Comparison:
    """Layer by layer, A's time over B's (speed-up of B), with which hot layers did not get faster."""
    rows = [
        _pair_row(a, b, a["layers"][i] if i is not None else None, b["layers"][j] if j is not None else None)
        for i, j in match_layers(a["layers"], b["layers"])
    ]
    rows.sort(key=lambda r: -(r["a_ms"] or 0.0))
    paired = [(r, s["value"]) for r in rows if (s := r["speedup"]) is not None]
    lat = ratio_of_medians_ci(a["samples"]["latency_ms"], b["samples"]["latency_ms"])
    return {
        "rows": rows,
        "latency_speedup": {"value": lat.value, "ci95": [lat.low, lat.high], "method": lat.method},
        "layer_sum_speedup": a["totals"]["layer_sum_ms"] / b["totals"]["layer_sum_ms"],
        "by_op_type": _compare_groups(a["by_op_type"], b["by_op_type"]),
        "faster": sum(1 for _, speedup in paired if speedup >= faster_at),
        "not_faster": [r["name"] for r, speedup in paired if speedup < faster_at and (r["a_share"] or 0.0) >= 0.01],
        "only_a": [r["name"] for r in rows if r["b_ms"] is None],
        "only_b": [r["name"] for r in rows if r["a_ms"] is None],
        "faster_at": faster_at,
        "method": "per-layer means over the same interleaved inferences; speed-up = A / B with a percentile "
        "bootstrap over blocks; layers matched by name, then by op type in order",
    }


def _compare_groups(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[GroupRow]:
    b_ms = {g["op_type"]: g["mean_ms"] for g in b}
    out: list[GroupRow] = []
    for g in a:
        other = b_ms.pop(g["op_type"], None)
        out.append(
            {
                "op_type": g["op_type"],
                "a_ms": g["mean_ms"],
                "b_ms": other,
                "speedup": g["mean_ms"] / other if other else None,
            }
        )
    out += [{"op_type": k, "a_ms": None, "b_ms": v, "speedup": None} for k, v in b_ms.items()]
    return out


def shape_scaling(groups: list[dict[str, Any]]) -> list[ScalingRow]:
    """Per op type, time at each shape group and how it grows with the input: the slope of log(ms)
    against log(input elements), least squares over the groups (1: like the input; 2: quadratic, the
    way attention scores grow with sequence length). Op types missing from a group count 0 ms there
    and get no slope. The first row is the sum over all layers."""
    sizes = np.log(np.asarray([float(g["elements"]) for g in groups]))
    types: dict[str, list[float]] = {}
    for i, g in enumerate(groups):
        for row in g["by_op_type"]:
            types.setdefault(str(row["op_type"]), [0.0] * len(groups))[i] = float(row["mean_ms"])
    totals_ms = [float(g["totals"]["layer_sum_ms"]) for g in groups]
    rows = [_scaling_row("all layers", totals_ms, totals_ms, sizes)]
    ordered = sorted(types.items(), key=lambda kv: -kv[1][-1])
    rows += [_scaling_row(name, ms, totals_ms, sizes) for name, ms in ordered]
    return rows


def _scaling_row(name: str, ms: list[float], totals_ms: list[float], log_sizes: np.ndarray) -> ScalingRow:
    slope = None
    if len(ms) > 1 and all(v > 0 for v in ms) and float(np.ptp(log_sizes)) > 0:
        slope = float(np.polyfit(log_sizes, np.log(np.asarray(ms)), 1)[0])
    return {
        "op_type": name,
        "mean_ms": ms,
        "share": [v / t if t > 0 else math.nan for v, t in zip(ms, totals_ms, strict=True)],
        "growth_exponent": slope,
    }
