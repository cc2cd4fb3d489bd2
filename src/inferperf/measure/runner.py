"""Latency and throughput scenarios: first inference, warm-up, then steady state.

The latency scenario keeps one request in flight; the throughput scenario
keeps N (default: the runtime's optimum). Both share one loop, the engine's
``run_requests``, so they differ only in concurrency.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NotRequired, TypedDict

import numpy as np

from inferperf.backends.base import Backend, DimBound, InputSet
from inferperf.config import RunLimits, RuntimeConfig, Scenario
from inferperf.errors import InputSpecError, InvariantError
from inferperf.measure.environment import LoadMonitor
from inferperf.model.info import ModelInfo
from inferperf.model.shapes import fed_batch, reconcile_batch
from inferperf.results.schema import RunResult
from inferperf.stats import QUANTILE_METHOD, RunsEstimate, quantile_ci, runs_interval, summarize, throughput_ci

# progress(fraction done in [0, 1], short status text)
Progress = Callable[[float, str], None]


@dataclass
class Collector:
    """Collects completions and decides when to stop (a RequestSink).

    ``record`` may be called from several threads: list.append is atomic in
    CPython, and ``should_stop`` only reads.
    """

    limits: RunLimits
    progress: Progress | None = None
    start: float = field(default_factory=time.perf_counter)
    latencies_ms: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)
    converged: bool | None = None
    stop_reason: str = ""
    _next_check: float = 0.0
    _stopped: bool = False
    # Until this clock time and below this count nothing can stop the run: the hot path reads only these.
    _quiet_until: float = 0.0
    _quiet_n: float = 0.0

    def record(self, done_at: float, latency_ms: float) -> None:
        """Keep one completion."""
        self.done_at.append(done_at)
        self.latencies_ms.append(latency_ms)

    def should_stop(self) -> bool:
        """Budget reached, converged, or capped.

        Called once per request from the hot loop, so between periodic checks it costs
        a clock read and three comparisons; progress and interval checks run every
        ``check_every_s`` only (a progress update per request measurably slows small models).
        """
        if self._stopped:
            return True
        now = time.perf_counter()
        if now < self._quiet_until and len(self.latencies_ms) < self._quiet_n:
            return False  # about 0.2 us: on a 0.1 ms model each microsecond here is 1% of the result
        elapsed, n = now - self.start, len(self.latencies_ms)
        reason = self._budget_reason(elapsed, n)
        if reason is None and now >= self._next_check:
            self._next_check = now + self.limits.check_every_s
            if self.limits.adaptive:
                reason = self._adaptive_reason(elapsed, n)
            else:
                self._report(elapsed, n)
        if reason is not None:
            self.stop_reason, self._stopped = reason, True
        lim = self.limits
        self._quiet_until = min(self._next_check, self.start + min(lim.time_s or lim.max_time_s, lim.max_time_s))
        self._quiet_n = lim.iterations if lim.iterations is not None else float("inf")
        return self._stopped

    def _budget_reason(self, elapsed: float, n: int) -> str | None:
        lim = self.limits
        if lim.iterations is not None and n >= lim.iterations:
            return "iterations budget"
        if lim.time_s is not None and elapsed >= lim.time_s:
            return "time budget"
        if elapsed >= lim.max_time_s:
            if lim.adaptive:
                self.converged = False
            return "time cap (not converged)" if lim.adaptive else "time cap"
        return None

    def _report(self, elapsed: float, n: int) -> None:
        lim = self.limits
        if self.progress is not None:
            frac = n / lim.iterations if lim.iterations else elapsed / (lim.time_s or lim.max_time_s)
            self.progress(min(frac, 1.0), f"{n} inferences")

    def _adaptive_reason(self, elapsed: float, n: int) -> str | None:
        lim = self.limits
        if n < max(lim.min_count, 20) or elapsed < lim.min_time_s:
            if self.progress is not None:
                self.progress(elapsed / lim.max_time_s, f"{n} inferences, warming statistics")
            return None
        rel = quantile_ci(np.asarray(self.latencies_ms), 0.5).relative_half_width()
        if self.progress is not None:
            self.progress(elapsed / lim.max_time_s, f"{n} inferences, median +/-{rel * 100:.2f}%")
        if rel <= lim.precision:
            self.converged = True
            return "converged"
        return None


def _first_inference_ms(engine_infer: Callable[[InputSet], object], inputs: InputSet) -> float:
    t0 = time.perf_counter()
    engine_infer(inputs)
    return (time.perf_counter() - t0) * 1e3


def run_scenario(
    backend: Backend,
    model: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    input_sets: Sequence[InputSet],
    config: RuntimeConfig,
    scenario: Scenario,
    limits: RunLimits,
    progress: Progress | None = None,
    ranges: dict[str, tuple[DimBound, ...]] | None = None,
) -> RunResult:
    """Compile, time the first inference, warm up, measure the steady state.

    With ``ranges`` the engine keeps those dims open and ``input_sets`` may differ in shape (a shape
    stream, fed in order, over and over); ``shapes`` is then only what the result records.
    """
    per_set = items_per_set(model, input_sets, config.batch)
    if len(set(per_set)) == 1:
        config = config.with_(batch=per_set[0])  # the recorded config says what was fed
    config = backend.configure(config, scenario)
    if ranges is not None:
        engine = backend.compile_dynamic(model, ranges, config)
    else:
        engine = backend.compile(model, shapes, config)
    try:
        phases = engine.phases_ms
        phases["first_inference"] = _first_inference_ms(engine.infer, input_sets[0])
        requests = 1 if scenario == "latency" else (config.requests or engine.default_requests())
        if limits.warmup_s > 0 and ranges is not None:
            # Open dims: runtimes specialise on the first sight of each shape, so warm a whole pass.
            engine.run_requests(input_sets, requests, Collector(RunLimits(iterations=len(input_sets))))
        elif limits.warmup_s > 0:
            engine.run_requests(input_sets, requests, Collector(RunLimits(time_s=limits.warmup_s)))
        monitor = LoadMonitor()
        collector = Collector(limits, progress)
        engine.run_requests(input_sets, requests, collector)
        load = monitor.stop()
        effective = {**engine.effective(), "requests_in_flight": requests}
    finally:
        engine.close()
    fed = {k: list(v.shape) for k, v in input_sets[0].items()}
    return _result(backend.name, scenario, config, effective, phases, collector, load, (per_set, fed))


def fit_config(model: ModelInfo, input_sets: Sequence[InputSet], config: RuntimeConfig) -> RuntimeConfig:
    """``config`` with its batch set to what the input sets feed (the one place the two are reconciled).

    ``--shape 8,...`` with the default batch computes 8 items per inference; a batch other than 1
    that the tensors do not hold is refused (InputSpecError, naming both). A stream whose batch dim
    varies keeps batch 1 in the config: its items are counted per input set.
    """
    per_set = {fed_batch(model, {k: tuple(v.shape) for k, v in s.items()}) for s in input_sets}
    if len(per_set) > 1:
        if config.batch != 1:
            raise InputSpecError(
                f"batch {config.batch} conflicts with inputs whose batch dim varies ({sorted(per_set)})"
            )
        return config
    shapes = {k: tuple(v.shape) for k, v in input_sets[0].items()}
    return config.with_(batch=reconcile_batch(model, shapes, config.batch))


def items_per_set(model: ModelInfo, input_sets: Sequence[InputSet], batch: int) -> list[int]:
    """Items each input set computes (its tensors' batch dim), checked against the config's batch.

    The invariant every measured run keeps: items counted = inferences x batch dim of the fed
    tensors. A config batch of 1 is the default and defers to the tensors; any other batch the
    tensors do not hold means a caller lost track of what it feeds (a bug): failing here keeps it
    from printing a throughput of items that were never computed.
    """
    per_set = [fed_batch(model, {k: tuple(v.shape) for k, v in s.items()}) for s in input_sets]
    if batch != 1 and (per_set[0] if len(set(per_set)) == 1 else 1) != batch:
        raise InvariantError(
            f"the config says batch {batch} but the fed tensors hold batch {per_set[0]} "
            f"({', '.join(f'{k}{list(v.shape)}' for k, v in input_sets[0].items())}): throughput would "
            "count items that were never computed"
        )
    return per_set


def items_completed(per_set: Sequence[int], count: int) -> int:
    """Items in the first ``count`` inferences of a rotation through sets of ``per_set`` items.

    Engines feed the sets in order, round and round, and every started request completes, so
    this is exact for the whole run even when a shape stream varies the batch dim.
    """
    whole, rest = divmod(count, len(per_set))
    return whole * sum(per_set) + sum(per_set[:rest])


BUSY_GOAL = 0.97  # below this, the harness (not the model) is a visible part of the result


class Harness(TypedDict):
    """How much of the wall time the request slots had an inference in flight (None: nothing ran)."""

    busy_fraction: float | None
    requests: int
    gap_us_per_inference: NotRequired[float]
    method: NotRequired[str]
    note: NotRequired[str]


def harness_figures(latencies_ms: np.ndarray, duration_s: float, requests: int) -> Harness:
    """The fraction of wall time the ``requests`` slots had an inference in flight, and the rest per inference.

    busy = throughput x mean latency / requests = sum(latency) / (duration x requests). What is missing
    from 1 is time between one completion and the next start: the harness's own work (callbacks, the
    GIL, bookkeeping). It needs no second run, so it is free of machine noise between runs.
    """
    count = int(latencies_ms.size)
    if count == 0 or duration_s <= 0 or requests < 1:
        return {"busy_fraction": None, "requests": requests}
    in_flight_s = float(latencies_ms.sum()) / 1e3
    busy = in_flight_s / (duration_s * requests)
    gap_us = max(0.0, duration_s * requests - in_flight_s) / count * 1e6
    out: Harness = {
        "busy_fraction": busy,
        "gap_us_per_inference": gap_us,
        "requests": requests,
        "method": "sum of request latencies / (wall time x requests in flight)",
    }
    if busy < BUSY_GOAL:
        out["note"] = (
            f"requests were in flight {busy:.0%} of the time: the harness cost {gap_us:.0f} us per inference "
            f"between a completion and the next start; throughput is understated by up to {1 - busy:.0%}"
        )
    return out


def _result(
    backend: str,
    scenario: Scenario,
    config: RuntimeConfig,
    effective: dict[str, object],
    phases: dict[str, float | None],
    col: Collector,
    load: Mapping[str, object],
    fed: tuple[list[int], dict[str, list[int]]],
) -> RunResult:
    lat = np.asarray(col.latencies_ms)
    end = max(col.done_at)
    per_set, fed_shapes = fed
    items = items_completed(per_set, lat.size)
    tput = throughput_ci(col.done_at, col.start, end, items_per_completion=items / lat.size)
    return RunResult(
        backend=backend,
        scenario=scenario,
        config=config.to_dict(),
        effective=effective,
        phases_ms=phases,
        # One run's intervals describe its own samples: one compile, one process, one stretch of time.
        latency_ms=summarize(lat).to_dict(covers="samples"),
        throughput_fps={**tput.to_dict(), "ci_method": tput.method, "covers": "samples"},
        count=int(lat.size),
        duration_s=end - col.start,
        converged=col.converged,
        stop_reason=col.stop_reason,
        batch=per_set[0] if len(set(per_set)) == 1 else 1,
        load=load,
        items=items,
        fed_shapes=fed_shapes,
        harness=harness_figures(lat, end - col.start, int(str(effective.get("requests_in_flight", 1)))),
        samples={
            "latency_ms": [round(float(x), 6) for x in lat],
            "completed_at_s": [round(t - col.start, 6) for t in col.done_at],
        },
    )


def _half(stat: dict[str, Any]) -> float:
    lo, hi = stat["ci95"]
    hi = hi if hi is not None else math.inf
    return float(max(stat["value"] - lo, hi - stat["value"]))


def _two_level(pooled: dict[str, Any], per_run: list[dict[str, Any]]) -> RunsEstimate:
    """The pooled estimate with the union of its own interval and the runs-level one (see stats.runs_interval)."""
    level = runs_interval(pooled["value"], [s["value"] for s in per_run], [_half(s) for s in per_run])
    lo, hi = pooled["ci95"]
    level["ci95"] = [min(lo, level["ci95"][0]), max(hi if hi is not None else math.inf, level["ci95"][1])]
    return level  # every key of the pooled estimate (value, ci95, covers), now at the runs level


def merge_repeats(runs: list[RunResult]) -> RunResult:
    """One run from R independent runs: pooled samples, two-level intervals (within and between runs)."""
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    lat = np.concatenate([np.asarray(r.samples["latency_ms"]) for r in runs])
    latency: dict[str, Any] = summarize(lat).to_dict()
    for key in ("median", "p90", "p95", "p99"):
        latency[key] = _two_level(latency[key], [r.latency_ms[key] for r in runs])
    latency["ci_method"] = (
        f"{QUANTILE_METHOD} on pooled samples, joined with the t-interval over the {len(runs)} runs' estimates"
    )
    items = sum(r.items_counted() for r in runs)
    duration = sum(r.duration_s for r in runs)
    value = items / duration
    tput = _two_level({"value": value, "ci95": [value, value]}, [r.throughput_fps for r in runs])
    offsets = np.cumsum([0.0] + [r.duration_s for r in runs[:-1]])
    done = [t + off for r, off in zip(runs, offsets, strict=True) for t in r.samples["completed_at_s"]]
    return replace(
        first,
        latency_ms=latency,
        throughput_fps={
            **tput,
            "ci95": [max(0.0, tput["ci95"][0]), tput["ci95"][1]],
            "ci_method": f"t-interval over {len(runs)} runs' throughputs, at least their within-run batch means",
        },
        count=int(lat.size),
        duration_s=duration,
        converged=all(r.converged for r in runs) if first.converged is not None else None,
        stop_reason=f"{len(runs)} repeats: " + ", ".join(sorted({r.stop_reason for r in runs})),
        samples={"latency_ms": [float(x) for x in lat], "completed_at_s": [round(t, 6) for t in done]},
        harness=harness_figures(lat, duration, int((first.harness or {}).get("requests", 1))),
        repeats=[
            {
                "median_ms": r.latency_ms["median"]["value"],
                "p90_ms": r.latency_ms["p90"]["value"],
                "p99_ms": r.latency_ms["p99"]["value"],
                "throughput_fps": r.throughput_fps["value"],
                "count": r.count,
                "duration_s": r.duration_s,
                "converged": r.converged,
                "phases_ms": r.phases_ms,
            }
            for r in runs
        ],
    )
