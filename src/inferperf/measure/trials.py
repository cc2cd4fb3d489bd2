"""Worker-side tasks of the tuner: one short trial, and an interleaved verification.

Both run inside a fresh worker process (see ``measure.worker``), so a runtime
that crashes or hangs on some configuration takes only its trial with it, and
the process's peak resident memory belongs to that configuration alone.
"""

from __future__ import annotations

import time
from typing import Any, TypedDict, cast

import numpy as np

from inferperf.backends import get_backend
from inferperf.backends.base import DimBound, Engine, InputSet
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.inputs import Feed, feed_sets
from inferperf.measure.rss import hwm_mb, reset_hwm, rss_mb
from inferperf.measure.runner import Collector, fit_config, items_per_set, run_scenario
from inferperf.measure.target import StreamSpec
from inferperf.model.info import ModelInfo, ModelRecord
from inferperf.stats import quantile_ci

Ranges = dict[str, tuple[DimBound, ...]] | None


class WorkerCandidate(TypedDict):
    """One configuration a worker compiles: the backend, the model (``ModelInfo.to_dict``) and the
    ``RuntimeConfig.to_dict`` it runs with (an interleaved verification takes a list of them)."""

    backend: str
    model_info: ModelRecord
    config: dict[str, Any]


class Trial(TypedDict):
    """A trial's run (its summary, without the samples) and the worker's peak resident memory."""

    run: dict[str, Any]
    peak_mb: float


class Measured(TypedDict):
    """One candidate of an interleaved verification: its figure per round and its pooled latency."""

    throughput_fps_per_round: list[float]
    median_ms_per_round: list[float]
    latency_ms: dict[str, Any]


class Interleaved(TypedDict):
    """Every candidate, in the job's order, measured round after round."""

    candidates: list[Measured]
    wall_s: float


class TrialInputs(Feed, total=False):
    """How every trial of a search is fed: bench's ``Feed``, or the shape stream each redraws (``shapes``)."""

    shapes: StreamSpec


def stream_length(inputs: TrialInputs) -> int | None:
    """How many inputs the trials' shape stream holds (None: no stream, fixed shapes)."""
    shapes = inputs.get("shapes")
    return shapes["stream"] if shapes else None


def _inputs(
    info: ModelInfo, job: dict[str, Any], batch: int
) -> tuple[dict[str, tuple[int, ...]], list[InputSet], Ranges]:
    """The input sets of a trial; with a shape stream also the dims its one engine keeps open."""
    spec = cast(TrialInputs, job.get("inputs") or {})
    if spec.get("shapes"):
        int_range = spec.get("int_range")
        low_high = (int(int_range[0]), int(int_range[1])) if int_range else None
        return shape_stream(info, dict(spec.get("shapes") or {}), int(spec.get("seed", 0)), low_high)
    shapes, sets = feed_sets(info, spec, batch)
    return shapes, sets, None


def shape_stream(
    info: ModelInfo, spec: dict[str, Any], seed: int, int_range: tuple[int, int] | None
) -> tuple[dict[str, tuple[int, ...]], list[InputSet], Ranges]:
    """``--shapes`` as a seeded stream of input sets; the largest shape; the dims the engine leaves open.

    ``spec``: ``text`` (the --shapes grammar), ``histogram``, ``data`` (a size source), ``stream`` (count).
    """
    from inferperf.measure.dynamic_plan import plan_from_spec, stream_inputs

    plan = plan_from_spec(info, spec, seed)
    return plan.largest, stream_inputs(info, plan.items, seed, int_range), plan.ranges


def trial_task(job: dict[str, Any]) -> Trial:
    """Compile one configuration, measure it for a short fixed time, report the summary and peak memory."""
    reset_hwm()
    backend = get_backend(job["backend"])
    info = ModelInfo.from_dict(job["model_info"])
    config = RuntimeConfig.from_dict(job["config"])
    shapes, sets, ranges = _inputs(info, job, config.batch)
    config = fit_config(info, sets, config)
    warmup_s = float(job.get("warmup_s", 0.5))
    if ranges is not None:
        # A shape stream is measured in whole passes: a time window would see only its first inputs,
        # and each trial would be judged on a different share of the distribution.
        limits = RunLimits(iterations=len(sets), warmup_s=warmup_s)
    else:
        limits = RunLimits(time_s=float(job["time_s"]), warmup_s=warmup_s)
    run = run_scenario(backend, info, shapes, sets, config, job["scenario"], limits, ranges=ranges)
    doc = run.to_dict()
    doc.pop("samples")  # the parent needs the summary; the samples would only fatten the pipe
    return {"run": doc, "peak_mb": hwm_mb() or rss_mb()}


def _round(
    engine: Engine, sets: list[InputSet], requests: int, seconds: float, whole_pass: bool = False
) -> tuple[float, list[float]]:
    engine.run_requests(sets, requests, Collector(RunLimits(time_s=min(0.5, seconds / 4))))  # re-warm after a switch
    col = Collector(RunLimits(iterations=len(sets)) if whole_pass else RunLimits(time_s=seconds))
    engine.run_requests(sets, requests, col)
    span = max(max(col.done_at) - col.start, 1e-9)
    return len(col.done_at) / span, col.latencies_ms


def interleave_task(job: dict[str, Any]) -> Interleaved:
    """Compile every candidate once, then measure them in rotating order, round after round.

    Each round gives every candidate the same machine state in turn, so the
    per-round ratios cancel the slow drifts that swamp pooled comparisons.
    """
    engines: list[tuple[Engine, list[InputSet], int, float]] = []
    try:
        for cand in job["candidates"]:
            backend = get_backend(cand["backend"])
            info = ModelInfo.from_dict(cand["model_info"])
            config = backend.configure(RuntimeConfig.from_dict(cand["config"]), job["scenario"])
            shapes, sets, ranges = _inputs(info, job, config.batch)
            config = fit_config(info, sets, config)
            if ranges is not None:
                engine = backend.compile_dynamic(info, ranges, config)
            else:
                engine = backend.compile(info, shapes, config)
            requests = 1 if job["scenario"] == "latency" else (config.requests or engine.default_requests())
            per_set = items_per_set(info, sets, config.batch)
            engines.append((engine, sets, requests, sum(per_set) / len(per_set)))
            if ranges is not None:  # first sight of every shape before any round is measured
                engine.run_requests(sets, requests, Collector(RunLimits(iterations=len(sets))))
        stream = bool((job.get("inputs") or {}).get("shapes"))
        return _rounds(engines, int(job["rounds"]), float(job["seconds"]), stream)
    finally:
        for engine, *_ in engines:
            engine.close()


def _rounds(
    engines: list[tuple[Engine, list[InputSet], int, float]], rounds: int, seconds: float, whole_pass: bool = False
) -> Interleaved:
    n = len(engines)
    tput: list[list[float]] = [[] for _ in range(n)]
    medians: list[list[float]] = [[] for _ in range(n)]
    lat: list[list[float]] = [[] for _ in range(n)]
    t0 = time.perf_counter()
    for r in range(rounds):
        for k in range(n):
            i = (k + r) % n  # rotate who goes first, so no candidate always follows the same one
            engine, sets, requests, batch = engines[i]
            fps, latencies = _round(engine, sets, requests, seconds, whole_pass)
            tput[i].append(fps * batch)
            medians[i].append(float(np.median(latencies)))
            lat[i].extend(latencies)
    out: list[Measured] = []
    for i in range(n):
        arr = np.asarray(lat[i])
        p99, med = quantile_ci(arr, 0.99), quantile_ci(arr, 0.5)
        out.append(
            {
                "throughput_fps_per_round": tput[i],
                "median_ms_per_round": medians[i],
                "latency_ms": {"median": med.to_dict(), "p99": p99.to_dict(), "count": int(arr.size)},
            }
        )
    return {"candidates": out, "wall_s": time.perf_counter() - t0}
