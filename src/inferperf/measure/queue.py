"""The ideal queue a Server run is judged against: FCFS M/G/c simulated on the hardware's own service times.

A Server run's p99 holds two things: the queueing any c-server system pays under Poisson arrivals, and
what the system under test adds on top (feeder hops, callbacks, contention, stalls). Simulating the first
with the service times measured on the same engine separates them, so measured p99 / ideal p99 is the
SUT's overhead, and "p99 too high" can be told apart from "this rate is too close to the hardware's
capacity". Pure numpy; nothing here times anything.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from typing import Any, NotRequired, TypedDict

import numpy as np
from numpy.typing import NDArray

from inferperf.errors import ConfigError
from inferperf.measure.rate_search import bisect_rate, single
from inferperf.stats import block_bootstrap

FloatArray = NDArray[np.float64]
# Replications are simulated side by side; above this many cells (replications x queries) they go in
# chunks, so a long run (100k queries) stays within a few hundred MB.
_CHUNK_CELLS = 4_000_000
_BOOTSTRAP_DRAWS = 2000


def poisson_arrivals(rate: float, n: int, rng: np.random.Generator, replications: int | None = None) -> FloatArray:
    """Arrival times (s) of a Poisson process at ``rate`` per second: shape (n,), or (replications, n).

    Drawn as unit exponentials scaled by 1/rate, so one seed gives the same arrival pattern at every
    rate (common random numbers: a scan over rates is then smooth, not noisy).
    """
    if rate <= 0 or n < 0:
        raise ConfigError(f"invalid Poisson arrivals: rate {rate!r} must be > 0 and count {n!r} >= 0")
    shape = (n,) if replications is None else (replications, n)
    return np.cumsum(rng.standard_exponential(shape), axis=-1) / rate


def sojourn_times(arrivals_s: FloatArray, service_s: FloatArray, servers: int) -> FloatArray:
    """Sojourn (wait + service, s) of each arrival in a FCFS queue with ``servers`` identical servers.

    Each arrival, in arrival order, takes the server that frees first. Arrays are (n,) for one run or
    (replications, n) for many side by side; arrivals must be sorted along the last axis.
    """
    arrivals, service = np.asarray(arrivals_s, dtype=np.float64), np.asarray(service_s, dtype=np.float64)
    if arrivals.shape != service.shape or arrivals.ndim not in (1, 2):
        raise ConfigError(f"arrivals {arrivals.shape} and service times {service.shape} must match, 1-D or 2-D")
    if servers < 1:
        raise ConfigError(f"invalid server count {servers!r}: must be at least 1")
    if servers == 1:
        return _single_server(arrivals, service)
    if arrivals.ndim == 1:
        return _heap_loop(arrivals, service, servers)
    return _rows_loop(arrivals, service, servers)


def _single_server(arrivals: FloatArray, service: FloatArray) -> FloatArray:
    # Lindley's recursion D_i = max(A_i, D_{i-1}) + S_i unrolled: D_i = C_i + max_{k<=i}(A_k - C_{k-1}),
    # C the cumulative service; a running maximum, so it vectorises.
    done = np.cumsum(service, axis=-1)
    departures = done + np.maximum.accumulate(arrivals - done + service, axis=-1)
    return departures - arrivals


def _heap_loop(arrivals: FloatArray, service: FloatArray, servers: int) -> FloatArray:
    # One long run: a heap of free times on Python floats is ~1 us an arrival, faster than numpy per step.
    free = [0.0] * servers
    out = []
    for a, s in zip(arrivals.tolist(), service.tolist(), strict=True):
        earliest = free[0]
        done = (a if a > earliest else earliest) + s
        heapq.heapreplace(free, done)
        out.append(done - a)
    return np.asarray(out, dtype=np.float64)


def _rows_loop(arrivals: FloatArray, service: FloatArray, servers: int) -> FloatArray:
    # Many replications: step through arrivals once, every replication at the same step in one numpy op.
    rows, n = arrivals.shape
    free = np.zeros((rows, servers))
    row = np.arange(rows)
    out = np.empty_like(arrivals)
    for i in range(n):
        k = free.argmin(axis=1)
        done = np.maximum(free[row, k], arrivals[:, i]) + service[:, i]
        free[row, k] = done
        out[:, i] = done - arrivals[:, i]
    return out


def _service_seconds(samples_ms: Sequence[float] | FloatArray) -> FloatArray:
    service = np.asarray(samples_ms, dtype=np.float64).ravel() / 1e3
    if service.size == 0 or not np.all(np.isfinite(service)) or np.any(service < 0) or service.sum() <= 0:
        raise ConfigError("the ideal queue needs finite, non-negative service times, not all zero")
    return service


def utilisation(service_s: FloatArray, rate_qps: float, servers: int) -> float:
    """rho = arrival rate x mean service time / servers: at 1 or more the queue grows without bound."""
    return float(rate_qps * service_s.mean() / servers)


def _replicate_percentiles(
    service: FloatArray, rate: float, servers: int, queries: int, replications: int, seed: int, percentile: float
) -> FloatArray:
    """Per replication: a bootstrap of the service samples, Poisson arrivals, the sojourn percentile (ms).

    Each replication first resamples the measured service times, then draws from that resample: the
    spread then covers the few hundred warm-up samples' own uncertainty, not only the arrivals' luck.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(queries, 1))
    out = []
    for start in range(0, replications, chunk):
        rows = min(chunk, replications - start)
        resample = service[rng.integers(0, service.size, (rows, service.size))]
        drawn = np.take_along_axis(resample, rng.integers(0, service.size, (rows, queries)), axis=1)
        arrivals = poisson_arrivals(rate, queries, rng, replications=rows)
        out.append(np.percentile(sojourn_times(arrivals, drawn, servers), percentile, axis=1) * 1e3)
    return np.concatenate(out)


class IdealQueue(TypedDict):
    """The ideal M/G/c queue of a run: its set-up, utilisation and (when stable) the p99 over replications.

    A Server result adds where its service times came from, the SUT's overhead over it, and the same
    queue with the run's own service times (``in_run``)."""

    model: str
    servers: int
    rate_qps: float
    queries: int
    replications: int
    seed: int
    percentile: float
    service_samples: int
    service_mean_ms: float
    service_p99_ms: float
    capacity_qps: float
    utilisation: float
    stable: bool
    ideal_ms: float | None
    ci95: list[float] | None
    replicates_ms: list[float]
    verdict: str
    why: NotRequired[str]
    service_from: NotRequired[str]
    overhead: NotRequired[dict[str, Any]]
    in_run: NotRequired[IdealQueue | Unjudged]


class Unjudged(TypedDict):
    """Why a run's own ideal queue was not simulated."""

    stable: None
    why: str


class IdealPeak(TypedDict):
    """The highest arrival rate at which the ideal queue's median p99 meets the bound."""

    model: str
    servers: int
    bound_ms: float
    peak_qps: float | None
    bracket: list[float]
    capacity_qps: float
    steps: int
    replications: int
    criterion: str


def ideal_p99(
    service_samples_ms: Sequence[float] | FloatArray,
    rate_qps: float,
    servers: int,
    queries: int,
    replications: int = 200,
    seed: int = 0,
    percentile: float = 99,
) -> IdealQueue:
    """The p99 (``percentile``) sojourn an ideal FCFS M/G/c queue would show over a run of ``queries``.

    Every replication starts empty, as a LoadGen run does, and draws its own Poisson arrivals and
    service times; ``ideal_ms`` is the median over replications and ``ci95`` their 2.5/97.5
    percentiles (the spread of a rerun's ideal p99). At utilisation >= 1 there is no steady state:
    ``stable`` is False and ``ideal_ms`` None rather than a number that only measures the run's length.
    """
    service = _service_seconds(service_samples_ms)
    if rate_qps <= 0 or servers < 1 or queries < 1 or replications < 1:
        raise ConfigError("the ideal queue needs rate > 0 and at least one server, query and replication")
    rho = utilisation(service, rate_qps, servers)
    doc: IdealQueue = {
        "model": f"M/G/{servers}",
        "servers": servers,
        "rate_qps": rate_qps,
        "queries": queries,
        "replications": replications,
        "seed": seed,
        "percentile": percentile,
        "service_samples": int(service.size),
        "service_mean_ms": float(service.mean() * 1e3),
        "service_p99_ms": float(np.percentile(service, 99) * 1e3),
        "capacity_qps": float(servers / service.mean()),
        "utilisation": rho,
        "stable": rho < 1,
        "ideal_ms": None,
        "ci95": None,
        "replicates_ms": [],
        "verdict": "unstable",
    }
    if rho >= 1:
        doc["why"] = "the arrival rate exceeds what these servers with these service times can serve"
        return doc
    reps = _replicate_percentiles(service, rate_qps, servers, queries, replications, seed, percentile)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    doc["ideal_ms"], doc["ci95"] = float(np.median(reps)), [float(lo), float(hi)]
    doc["replicates_ms"], doc["verdict"] = reps.tolist(), "stable"
    return doc


def _ideal_replicates(ideal: IdealQueue | Sequence[float] | FloatArray) -> FloatArray | None:
    if isinstance(ideal, dict):
        if ideal.get("ideal_ms") is None:
            return None
        return np.asarray(ideal["replicates_ms"], dtype=np.float64)
    return np.asarray(ideal, dtype=np.float64)


def _verdict(lo: float, hi: float) -> str:
    if lo > 1:
        return "SUT overhead"
    if hi < 1:
        return "below the ideal queue (service at this load is faster than the warm-up's)"
    return "no significant overhead"


class Overhead(TypedDict):
    """Measured p99 against the ideal queue's: what the system under test adds (``ratio``, its interval)."""

    percentile: float
    measured_ms: float
    measured_ci95: list[float]
    samples: int
    method: str
    ideal_ms: float | None  # None: the ideal queue is unstable at this rate
    ratio: float | None
    ci95: list[float] | None
    verdict: str


def overhead_ratio(
    measured_latencies_ms: Sequence[float] | FloatArray,
    ideal: IdealQueue | Sequence[float] | FloatArray,
    seed: int = 0,
    percentile: float = 99,
) -> Overhead:
    """Measured p99 / ideal p99: what the SUT adds to the queueing its hardware cannot avoid.

    ``ideal`` is ``ideal_p99``'s result or its per-replication values. The 95% interval pairs random
    draws of a block bootstrap of the measured p99 with random replications of the ideal p99 and takes
    percentiles of their ratio, so it covers both the run's and the simulation's spread.
    """
    measured = np.asarray(measured_latencies_ms, dtype=np.float64).ravel()
    if measured.size == 0:
        raise ConfigError("the overhead ratio needs measured latencies")
    rng = np.random.default_rng(seed)
    measured_p = float(np.percentile(measured, percentile))
    # Latencies in a queue come in busy periods: blocks of about sqrt(n) keep neighbours together, where
    # an i.i.d. bootstrap would give far too narrow an interval.
    blocks = max(1, round(math.sqrt(measured.size)))
    boot = block_bootstrap(
        measured, lambda x: float(np.percentile(x, percentile)), resamples=_BOOTSTRAP_DRAWS, blocks=blocks, seed=seed
    )
    doc: Overhead = {
        "percentile": percentile,
        "measured_ms": measured_p,
        "measured_ci95": [float(v) for v in np.percentile(boot, [2.5, 97.5])],
        "samples": int(measured.size),
        "method": "block bootstrap of the measured p99 / replications of the ideal p99, paired at random",
        "ideal_ms": None,
        "ratio": None,
        "ci95": None,
        "verdict": "the ideal queue is unstable",
    }
    reps = _ideal_replicates(ideal)
    if reps is None or reps.size == 0:
        return doc
    ideal_ms = float(np.median(reps))
    ratios = boot / rng.choice(reps, boot.size)
    lo, hi = (float(v) for v in np.percentile(ratios, [2.5, 97.5]))
    return {**doc, "ideal_ms": ideal_ms, "ratio": measured_p / ideal_ms, "ci95": [lo, hi], "verdict": _verdict(lo, hi)}


def ideal_peak(
    service_samples_ms: Sequence[float] | FloatArray,
    servers: int,
    bound_ms: float,
    queries_at: Callable[[float], int],
    replications: int = 100,
    seed: int = 0,
    percentile: float = 99,
    rel_tol: float = 0.004,
) -> IdealPeak:
    """The highest arrival rate at which the ideal queue's median p99 meets ``bound_ms`` (bisection).

    ``queries_at(rate)`` is the run length at that rate (as LoadGen would size it), so the ideal is
    judged on runs as long as the measured ones. The rate is searched below the queue's capacity,
    servers / mean service; one seed at every rate keeps the curve monotone enough to bisect.
    """
    service = _service_seconds(service_samples_ms)
    capacity = float(servers / service.mean())

    def judge(rate: float, _step: int) -> tuple[bool, list[dict[str, Any]]]:
        def draw(_k: int) -> tuple[bool, dict[str, Any]]:
            ideal = ideal_p99(service * 1e3, rate, servers, queries_at(rate), replications, seed, percentile)
            return ideal["ideal_ms"] is not None and ideal["ideal_ms"] <= bound_ms, {"ideal_ms": ideal["ideal_ms"]}

        return single(draw)  # one seed at every rate: the same draw every time, so one decides

    search = bisect_rate(judge, 0.0, capacity, steps=40, rel_tol=rel_tol)
    return {
        "model": f"M/G/{servers}",
        "servers": servers,
        "bound_ms": bound_ms,
        "peak_qps": search.best,
        "bracket": [search.low, search.high],
        "capacity_qps": capacity,
        "steps": len(search.trials),
        "replications": replications,
        "criterion": f"median over replications of the ideal p{percentile:g} <= the bound",
    }
