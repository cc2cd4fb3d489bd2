"""The sections of an ``e2e`` result, typed where measure/e2e.py builds them (JSON objects on disk)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Stage(TypedDict):
    """One stage of the host path: median with interval, mean, share of the total (by means), raw samples."""

    median: dict[str, Any]
    mean: float
    share: float
    samples: list[float]


StageTable = dict[str, Stage]
"""Per stage name (decode, resize, ..., postprocess), its figures."""


class Phase(TypedDict):
    """What both phases report: throughput over the inputs counted, their raw samples, the runtime set-up."""

    throughput_fps: dict[str, Any]
    count: int
    samples: dict[str, list[float]]
    config: NotRequired[dict[str, Any]]
    effective: NotRequired[dict[str, Any]]


class Pipelined(Phase):
    """The pipelined phase: latency from an input's read to its post-processing's end, queues included."""

    requests: int
    prep_threads: int
    queue_size: int
    latency_ms: dict[str, Any]
    completed_total: int
    window_s: float
    warmup_s: float
    throughput_vs_sequential: NotRequired[float]


class Sequential(Phase):
    """The sequential phase: the stage table, its sum against the plain end-to-end median, throughput."""

    stages: StageTable
    stage_median_sum_ms: float
    e2e_ms: dict[str, Any]
    staged_total_ms: dict[str, Any]
    stage_sum_over_e2e: float
    first_input_ms: dict[str, float]
    passes: float
    duration_s: float


class Agreement(TypedDict):
    """Fused against host outputs per input."""

    inputs: int
    max_abs_diff: float
    median_max_abs_diff: float
    max_abs_output: float
    cosine_min: float
    cosine_median: float
    top1_agreement: float
    top1_disagreeing_inputs: list[int]
    per_input: dict[str, list[Any]]


class Fused(TypedDict):
    """The fused path: its stage table, agreement with the host path, its speed-up (paired per input)."""

    model: NotRequired[dict[str, Any]]  # the fused model written (the e2e command puts it first)
    stages: StageTable
    e2e_ms: dict[str, Any]
    agreement: Agreement
    speedup: dict[str, Any]
    preprocess_and_infer_speedup: dict[str, Any]
    samples: dict[str, list[float]]
    effective: NotRequired[dict[str, Any] | None]


class Measured(TypedDict):
    """What run_e2e measured: the fields of an ``e2e`` document below its header."""

    postprocess: str
    sequential: Sequential
    pipelined: Pipelined
    methods: dict[str, str]
    fused: NotRequired[Fused]
