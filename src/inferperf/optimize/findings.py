"""Why is this model not faster? Plain-language findings from a per-layer profile.

Each finding names what was seen (with the numbers behind it) and what to
try. The rules read only the runtime-neutral profile summary from
measure/profile.py plus a few facts about the model, so they work the same
for every backend; the thresholds are deliberately coarse: a finding should
matter, not merely exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from inferperf.jsonform import JsonRecord, json_key
from inferperf.measure.profile import Summary

Severity = Literal["high", "medium", "info"]

SLOW_PATH_SHARE = 0.05  # reference kernels: flagged from 5% of layer time
FLOAT_IN_QUANTIZED_SHARE = 0.20  # quantized model: flagged when 20% of compute time is still float
MEMORY_BOUND_SHARE = 0.25  # data movement: flagged from a quarter of layer time
OVERHEAD_SHARE = 0.30  # time outside the layers: flagged from 30% of latency
FIRST_INFERENCE_FACTOR = 3.0  # first inference this many times the steady median suggests per-shape setup


@dataclass(frozen=True)
class ModelFacts:
    """What the diagnosis needs to know about the model beyond its profile."""

    dynamic_inputs: dict[str, list[int | str]] = field(default_factory=dict)  # input -> shape with dynamic dims
    profiled_shapes: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding(JsonRecord):
    """One diagnosis: what, how bad, the evidence, and what to try."""

    code: str
    severity: Severity
    title: str
    evidence: str
    suggestion: str = field(metadata=json_key("try"))
    layers: tuple[str, ...] = ()


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _layer_text(layer: Mapping[str, Any], share_key: str = "share") -> str:
    return f"{layer['name']} ({layer['op_type']}, {layer.get('kernel', '?')}, {_pct(layer[share_key])})"


def slow_kernels(summary: Summary) -> Finding | None:
    """Layers on reference (unoptimized) kernels that take a real part of the time."""
    slow = [layer for layer in summary["layers"] if layer.get("slow_path")]
    share = sum(layer["share"] for layer in slow)
    if not slow or share < SLOW_PATH_SHARE:
        return None
    top = slow[:3]
    return Finding(
        "reference-kernels",
        "high" if share >= 4 * SLOW_PATH_SHARE else "medium",
        f"{len(slow)} layer(s) ran on reference kernels, {_pct(share)} of layer time",
        "slowest: " + "; ".join(_layer_text(layer) for layer in top) + f". {top[0]['slow_path']}.",
        "the runtime has no optimized kernel for these ops with these attributes/precision: replace the op with "
        "an equivalent the runtime optimizes (e.g. LRN -> BatchNorm/none, CumSum -> MatMul with a triangular "
        "matrix), change its data type, or update the runtime",
        tuple(layer["name"] for layer in slow),
    )


def float_in_quantized(summary: Summary) -> Finding | None:
    """A quantized model whose compute still runs in floating point for a large share of its time."""
    report = summary["precision"]
    share = float(report["float_compute_share"])
    if not report["quantized"] or share < FLOAT_IN_QUANTIZED_SHARE:
        return None
    hot = report["float_compute_layers"][:3]
    return Finding(
        "float-layers-in-quantized-model",
        "high" if share >= 0.5 else "medium",
        f"quantized model, but {_pct(share)} of compute time is still floating point",
        f"INT8 compute share {_pct(report['low_precision_compute_share'])}; hottest float layers: "
        + "; ".join(_layer_text(layer, "share_of_compute") for layer in hot),
        "quantize these layers too: remove them from the ignored scope / nodes_to_exclude; if they were left "
        "in float for accuracy, let accuracy control (NNCF) pick only the sensitive ones, or try the mixed preset",
        tuple(layer["name"] for layer in report["float_compute_layers"]),
    )


def memory_bound(summary: Summary) -> Finding | None:
    """Time dominated by data movement (reshape, transpose, concat, reorders, copies)."""
    groups = [g for g in summary["by_op_type"] if _category_of(summary, g["op_type"]) == "memory"]
    share = sum(g["share"] for g in groups)
    if share < MEMORY_BOUND_SHARE:
        return None
    top = ", ".join(f"{g['op_type']} x{g['layers']} {_pct(g['share'])}" for g in groups[:4])
    return Finding(
        "memory-bound",
        "high" if share >= 0.5 else "medium",
        f"{_pct(share)} of layer time moves data instead of computing",
        f"data-movement ops: {top}",
        "layout changes cost copies: export in the layout the runtime prefers (NCHW for CPU plug-ins), fold "
        "Reshape/Transpose chains (onnxsim, full graph optimization), fuse pre-processing into the graph, and "
        "avoid Concat/Split around every layer",
    )


def _category_of(summary: Summary, op_type: str) -> str:
    return next((str(layer["category"]) for layer in summary["layers"] if layer["op_type"] == op_type), "other")


def per_call_overhead(summary: Summary) -> Finding | None:
    """Most of the latency spent outside the layers: the model is too small for a call's fixed cost."""
    tot = summary["totals"]
    share = float(tot["gap_share"])
    if not share >= OVERHEAD_SHARE:  # also false for NaN
        return None
    latency = float(tot["latency_ms"]["mean"])
    return Finding(
        "per-call-overhead",
        "high" if share >= 0.5 else "medium",
        f"{_pct(share)} of each inference is spent outside the layers",
        f"mean latency {latency:.3f} ms, summed layer time {tot['layer_sum_ms']:.3f} ms, "
        f"gap {tot['gap_ms']:.3f} ms per call ({tot['latency_source']})",
        "the model is small next to a call's fixed cost: batch several inputs per call, keep several requests in "
        "flight (async / throughput mode), reuse input tensors instead of converting per call, or merge small "
        "models into one graph",
    )


def too_few_requests(summary: Summary) -> Finding | None:
    """More parallel streams compiled than requests in flight: the extra streams sit idle."""
    streams, requests = summary.get("streams"), int(summary.get("requests") or 1)
    if streams is None or streams <= requests:
        return None
    optimal = summary.get("optimal_requests") or streams
    return Finding(
        "too-few-requests",
        "medium",
        f"{streams} streams compiled but only {requests} request(s) in flight",
        f"NUM_STREAMS={streams}, optimal requests {optimal}; {streams - requests} stream(s) idle during this run",
        f"keep at least {optimal} requests in flight (async queue), or compile for latency "
        "(one stream) when serving one request at a time",
    )


def dynamic_shapes(summary: Summary, facts: ModelFacts) -> Finding | None:
    """Dynamic input dims whose first inference cost far more than steady state: setup paid per new shape."""
    if not facts.dynamic_inputs:
        return None
    tot = summary["totals"]
    first, steady = float(tot["first_inference_ms"]), float(tot["latency_ms"]["value"])
    if not first >= FIRST_INFERENCE_FACTOR * steady:
        return None
    dims = ", ".join(f"{k}{v}" for k, v in facts.dynamic_inputs.items())
    return Finding(
        "dynamic-shapes",
        "info",
        "dynamic input dimensions: every new shape pays set-up again",
        f"dynamic inputs {dims}; profiled static at {facts.profiled_shapes}; the first inference took "
        f"{first:.1f} ms vs {steady:.2f} ms steady ({first / steady:.0f}x), and a runtime serving changing shapes "
        "repeats that shape-specific preparation (kernel selection, memory planning) for each new shape",
        "fix the shapes (export static, or reshape once before compiling), or pad inputs to a few bucket sizes "
        "so each shape is prepared once; with OpenVINO a CACHE_DIR keeps compiled kernels across runs",
    )


def diagnose(summary: Summary, facts: ModelFacts | None = None) -> list[Finding]:
    """Every rule that fires, most severe first."""
    facts = facts or ModelFacts()
    found = [
        slow_kernels(summary),
        float_in_quantized(summary),
        memory_bound(summary),
        per_call_overhead(summary),
        too_few_requests(summary),
        dynamic_shapes(summary, facts),
    ]
    order = {"high": 0, "medium": 1, "info": 2}
    return sorted((f for f in found if f is not None), key=lambda f: order[f.severity])
