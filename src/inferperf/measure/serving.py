"""Serving a decoder LLM under load: closed-loop concurrency and open-loop arrivals, through OpenVINO GenAI's
continuous-batching pipeline (one scheduler step batches every active request).

One thread drives the pipeline: it submits requests when they arrive (open loop: seeded arrival times;
closed loop: a new request the moment one finishes), runs ``step()``, and stamps every token a step
produced with the step's end, the moment it became readable. TTFT runs from the request's *scheduled*
arrival, so time a request waited because the engine was busy counts, as it would for a client; the
part spent before the driver could even submit it is reported apart (``submit_delay_ms``).

Goodput: completed requests per second that met every given SLO (TTFT, TPOT, end to end).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from inferperf.backends.generative import Request
from inferperf.backends.serving import EngineSettings, ServingEngine, TokenEvent, serving_engine_class
from inferperf.errors import BackendError, ConfigError
from inferperf.measure.rate_search import bisect_rate, confirm_stepping_down, majority
from inferperf.stats import clopper_pearson, summarize


class Errors(TypedDict):
    """A level's failed requests: how many, their share, by kind, the first few causes."""

    count: int
    rate: float
    by_kind: dict[str, int]
    examples: list[str]


class Slo(TypedDict):
    """SLO attainment over every request of a level (a failed one met none), with exact intervals."""

    attainment: float
    attainment_ci95: list[float]
    goodput_requests_per_s: float
    goodput_ci95: list[float]


class Overload(TypedDict):
    """Whether an open-loop level's arrivals outran the engine."""

    offered_requests_per_s: float
    served_requests_per_s: float
    ttft_first_third_ms: float
    ttft_last_third_ms: float
    overloaded: bool
    verdict: NotRequired[str]


class Queueing(TypedDict):
    """TTFT apart into the request's own prefill and the wait for (and sharing of) the batch."""

    ttft_beyond_prefill_ms: dict[str, float]  # median, p90, p99
    share_of_ttft: float
    tpot_over_unloaded: float
    method: str


class Level(TypedDict):
    """One load level's figures (the figures are absent when no request completed)."""

    load: dict[str, Any]  # kind, value, label
    requests: int
    errors: Errors
    lengths_short: NotRequired[int]
    lengths: NotRequired[dict[str, dict[str, float]]]
    ttft_ms: NotRequired[dict[str, Any]]  # a LatencySummary's JSON
    tpot_ms: NotRequired[dict[str, Any]]
    e2e_ms: NotRequired[dict[str, Any]]
    itl_ms: NotRequired[dict[str, Any]]
    submit_delay_ms: NotRequired[dict[str, float]]
    wall_s: NotRequired[float]
    output_tokens_per_s: NotRequired[float]
    requests_per_s: NotRequired[float]
    slo: NotRequired[Slo]
    overload: NotRequired[Overload]
    raw: NotRequired[list[dict[str, Any]]]
    engine_cache: NotRequired[dict[str, Any]]
    aborted: NotRequired[str]


class Confirmation(TypedDict):
    """The bisected rate run again with twice the requests, stepping down after a miss."""

    confirm: Level
    confirm_attempts: list[dict[str, Any]]
    confirmed: bool
    confirmed_rate: float | None


class PeakSearch(TypedDict):
    """The highest arrival rate whose p99s meet every SLO: capacity, the bisection's trials, the confirmation."""

    capacity_requests_per_s: float
    trials: list[dict[str, Any]]
    rate: float | None
    confirm: NotRequired[Level]
    confirm_attempts: NotRequired[list[dict[str, Any]]]
    confirmed: NotRequired[bool]
    confirmed_rate: NotRequired[float | None]


@dataclass(frozen=True)
class Load:
    """One load level: ``concurrency`` requests kept in flight, or ``rate`` arrivals per second."""

    kind: str  # "concurrency" | "rate"
    value: float

    @property
    def label(self) -> str:
        """How the level is named in reports."""
        return f"concurrency {int(self.value)}" if self.kind == "concurrency" else f"{self.value:g} req/s"


class ServeRecord(TypedDict):
    """A serving run's options as its result records them: the loads, the lengths, the SLOs, the engine."""

    loads: list[dict[str, Any]]
    prompt_tokens: int
    new_tokens: int
    prompt_tokens_max: int | None
    new_tokens_max: int | None
    lengths: str  # fixed | uniform
    requests: int
    arrivals: str
    seed: int
    max_error_rate: float
    slo: dict[str, float | None]
    engine: dict[str, Any]


@dataclass(frozen=True)
class ServeOptions:
    """The load levels, the requests each runs, their lengths, the arrival process, the SLOs and the engine."""

    loads: tuple[Load, ...] = (Load("concurrency", 1), Load("concurrency", 4))
    prompt_tokens: int = 128
    new_tokens: int = 64
    # With a max, each request's length is drawn uniformly (seeded) from [the value above, max].
    prompt_tokens_max: int | None = None
    new_tokens_max: int | None = None
    requests: int = 32
    arrivals: str = "poisson"  # poisson | constant | gamma:SHAPE (shape < 1: burstier than Poisson)
    seed: int = 0
    ttft_max_ms: float | None = None
    tpot_max_ms: float | None = None
    e2e_max_ms: float | None = None
    cache_gb: float = 1.0
    max_num_seqs: int = 64
    # None: GenAI's own default (256 tokens per step, split-fuse on; the KV cache at the device's precision)
    max_num_batched_tokens: int | None = None
    dynamic_split_fuse: bool | None = None
    kv_cache: str | None = None
    # A level whose failed requests (timeouts, refused connections, HTTP errors, malformed streams) pass this
    # share of its requests stops there: its figures would describe the failures' survivors.
    max_error_rate: float = 0.05

    def settings(self) -> EngineSettings:
        """The engine's own fields, as the serving engines take them."""
        return EngineSettings(
            cache_gb=self.cache_gb,
            max_num_seqs=self.max_num_seqs,
            max_num_batched_tokens=self.max_num_batched_tokens,
            dynamic_split_fuse=self.dynamic_split_fuse,
            kv_cache=self.kv_cache,
        )

    def __post_init__(self) -> None:
        for load in self.loads:
            if load.value <= 0 or (load.kind == "concurrency" and load.value != int(load.value)):
                raise ConfigError(f"invalid load {load.label}: concurrency is a positive integer, a rate positive")
        if (
            self.max_num_batched_tokens is not None
            and self.dynamic_split_fuse is False
            and self.max_num_batched_tokens < (self.prompt_tokens_max or self.prompt_tokens)
        ):
            # Without split-fuse a prompt is prefilled in one step: a longer one could never be scheduled.
            raise ConfigError("`max_num_batched_tokens` below the longest prompt needs `dynamic_split_fuse`")
        if (
            self.dynamic_split_fuse is False
            and self.max_num_seqs > (self.max_num_batched_tokens or 256)  # GenAI's default budget: 256
        ):
            # GenAI's scheduler refuses it: each running sequence needs a token of the step's budget.
            raise ConfigError("`max_num_seqs` above `max_num_batched_tokens` needs `dynamic_split_fuse`")
        if self.requests < 1 or self.new_tokens < 2 or self.prompt_tokens < 1:
            raise ConfigError("`new_tokens` must be at least 2, `requests` and `prompt_tokens` at least 1")
        for low, high, name in (
            (self.prompt_tokens, self.prompt_tokens_max, "prompt_tokens_max"),
            (self.new_tokens, self.new_tokens_max, "new_tokens_max"),
        ):
            if high is not None and high < low:
                raise ConfigError(f"invalid `{name}` {high}: below the lower end {low}")
        gamma_shape(self.arrivals)  # validates the name
        if not 0 <= self.max_error_rate < 1:
            raise ConfigError(f"invalid `max_error_rate` {self.max_error_rate}: a share in [0, 1)")

    def to_dict(self) -> ServeRecord:
        """JSON form."""
        return {
            "loads": [{"kind": load.kind, "value": load.value} for load in self.loads],
            "prompt_tokens": self.prompt_tokens,
            "new_tokens": self.new_tokens,
            "prompt_tokens_max": self.prompt_tokens_max,
            "new_tokens_max": self.new_tokens_max,
            "lengths": "fixed" if self.prompt_tokens_max is None and self.new_tokens_max is None else "uniform",
            "requests": self.requests,
            "arrivals": self.arrivals,
            "seed": self.seed,
            "max_error_rate": self.max_error_rate,
            "slo": {"ttft_max_ms": self.ttft_max_ms, "tpot_max_ms": self.tpot_max_ms, "e2e_max_ms": self.e2e_max_ms},
            "engine": {
                "cache_gb": self.cache_gb,
                "max_num_seqs": self.max_num_seqs,
                "max_num_batched_tokens": self.max_num_batched_tokens,
                "dynamic_split_fuse": self.dynamic_split_fuse,
                "kv_cache": self.kv_cache,
                "prefix_caching": False,
            },
        }


def gamma_shape(arrivals: str) -> float | None:
    """The gamma shape of an arrival process name (None: constant gaps); Poisson is shape 1."""
    if arrivals == "poisson":
        return 1.0
    if arrivals == "constant":
        return None
    name, _, value = arrivals.partition(":")
    try:
        shape = float(value)
    except ValueError:
        shape = -1.0
    if name != "gamma" or shape <= 0:
        raise ConfigError(f"invalid `arrivals` {arrivals!r}: poisson, constant or gamma:SHAPE (SHAPE > 0)")
    return shape


def request_lengths(opts: ServeOptions, seed: int) -> list[tuple[int, int]]:
    """Each request's (prompt tokens, new tokens): fixed, or uniform between the value and its max (seeded)."""
    rng = np.random.default_rng(seed + 1)
    n = opts.requests
    prompts = rng.integers(opts.prompt_tokens, (opts.prompt_tokens_max or opts.prompt_tokens) + 1, size=n)
    outputs = rng.integers(opts.new_tokens, (opts.new_tokens_max or opts.new_tokens) + 1, size=n)
    return [(int(p), int(o)) for p, o in zip(prompts, outputs, strict=True)]


def arrival_times(rate: float, n: int, arrivals: str, seed: int) -> np.ndarray:
    """Seconds from the start at which each of ``n`` requests arrives, mean gap 1/rate."""
    shape = gamma_shape(arrivals)
    if shape is None:
        gaps = np.full(n, 1.0 / rate)
    else:
        gaps = np.random.default_rng(seed).gamma(shape, 1.0 / (rate * shape), size=n)
    gaps[0] = 0.0  # the first request arrives at the start
    return np.cumsum(gaps)


def genai_engine(folder: Path, device: str, opts: ServeOptions) -> ServingEngine:
    """OpenVINO GenAI's continuous-batching engine on ``folder``, configured by the options' engine fields."""
    engine: ServingEngine = serving_engine_class("openvino-genai")(folder, device, opts.settings())
    return engine


@dataclass
class Served:
    """A request under load: its timestamps (``request.start`` = scheduled arrival) and when it was submitted."""

    request: Request
    submitted: float
    expected: int | None = None  # new tokens asked for (None: the options' fixed count)
    error: str | None = None  # why it failed (``timeout``, ``refused``, ``http 503``, ``malformed``...)
    detail: str = ""
    request_id: int = -1


# Request ids unique over the process: a request a stopped level left in flight on a server must not be
# taken for one of the next level's.
_REQUEST_IDS = itertools.count()
_POLL_S = 0.05  # the longest a remote engine's step waits when nothing is due sooner


def run_load(engine: ServingEngine, prompts: Callable[[int], list[int]], load: Load, opts: ServeOptions) -> Level:
    """Every request of one load level, to the end; their figures summarised, goodput and SLO attainment.
    ``prompts(n)`` gives ``n`` prompt token ids. Failed requests are counted by kind; once they pass
    ``opts.max_error_rate`` of the level, the level stops (``aborted``) and what is in flight is dropped."""
    n = opts.requests
    arrive = arrival_times(load.value, n, opts.arrivals, opts.seed) if load.kind == "rate" else None
    queue = [(prompts(p), o) for p, o in request_lengths(opts, opts.seed)]
    active: dict[int, Served] = {}
    done: list[Served] = []
    failed: list[Served] = []
    t0 = time.perf_counter()
    nxt = 0
    peak_used = 0.0
    aborted = None
    while len(done) + len(failed) < n:
        nxt = _submit_due(engine, queue, active, nxt, load, arrive, t0)
        due = None if arrive is None or nxt >= n else max(0.0, t0 + float(arrive[nxt]) - time.perf_counter())
        if not active:
            time.sleep(due or 0.0)
            continue
        events = engine.step(_POLL_S if due is None else min(due, _POLL_S))
        peak_used = max(peak_used, engine.cache_used_bytes())  # after the step: finished sequences may be freed
        _collect(events, active, done, failed)
        if len(failed) > opts.max_error_rate * n:
            aborted = f"{len(failed)} of {n} requests failed (limit {opts.max_error_rate:.0%}): the level stopped"
            engine.abandon()
            break
    ended = [s.request.end for s in done + failed if s.request.end]
    wall = (max(ended) if ended else time.perf_counter()) - t0
    level = summarize_load(done, load, wall, opts, failed=failed, exact=engine.exact_lengths)
    cache = engine.cache()
    if cache is not None:
        level["engine_cache"] = cache | {"level_peak_used_mib": peak_used / 2**20}
    if aborted:
        level["aborted"] = aborted
    return level


def _submit_due(
    engine: ServingEngine,
    queue: list[tuple[list[int], int]],
    active: dict[int, Served],
    nxt: int,
    load: Load,
    arrive: Any,
    t0: float,
) -> int:
    """Submit what is due now: arrivals whose time has come, or enough to keep ``concurrency`` in flight."""
    now = time.perf_counter()
    while nxt < len(queue):
        if arrive is not None:
            if t0 + float(arrive[nxt]) > now:
                break
            scheduled = t0 + float(arrive[nxt])
        elif len(active) >= int(load.value):
            break
        else:
            scheduled = now
        ids, new_tokens = queue[nxt]
        rid = next(_REQUEST_IDS)
        active[rid] = Served(Request(len(ids), scheduled), time.perf_counter(), new_tokens, request_id=rid)
        engine.submit(rid, ids, new_tokens)
        nxt += 1
    return nxt


def _collect(events: list[TokenEvent], active: dict[int, Served], done: list[Served], failed: list[Served]) -> None:
    """Stamp every token the engine handed over; move finished requests to ``done`` (or ``failed``)."""
    for event in events:
        served = active.get(event.request_id)
        if served is None:  # a request an earlier, stopped level left in flight
            continue
        served.request.token_times.extend([event.stamp] * event.tokens)
        if not event.finished:
            continue
        served.request.end = event.stamp
        if event.usage and "prompt_tokens" in event.usage:
            served.request.prompt_tokens = event.usage["prompt_tokens"]  # the server's count of what it read
        served.error, served.detail = event.error, event.detail
        if served.error is None and len(served.request.token_times) < 2:
            served.error, served.detail = "malformed", "fewer than 2 tokens streamed: no TPOT"
        (failed if served.error else done).append(active.pop(event.request_id))


def summarize_load(
    done: list[Served],
    load: Load,
    wall_s: float,
    opts: ServeOptions,
    failed: Sequence[Served] = (),
    exact: bool = True,
) -> Level:
    """Percentiles of TTFT (from arrival), TPOT, ITL and end to end over the requests that completed;
    throughput, goodput and SLO attainment over every request (a failed one met no SLO); failures by kind.
    ``exact``: the engine promised exactly the tokens asked for, so any other count is an error (a server's
    shorter answers are counted instead)."""
    short = [s for s in done if len(s.request.token_times) != (s.expected or opts.new_tokens)]
    if exact and (short or failed):
        s = (short or list(failed))[0]
        asked = s.expected or opts.new_tokens
        raise BackendError(f"asked for exactly {asked} new tokens, a request got {len(s.request.token_times)}")
    out: Level = {
        "load": {"kind": load.kind, "value": load.value, "label": load.label},
        "requests": len(done),
        "errors": _errors(failed, len(done) + len(failed)),
    }
    if not exact:
        out["lengths_short"] = len(short)  # answers with fewer tokens than asked (EOS or the server's limit)
    if not done:
        return out
    per = [s.request.figures() for s in done]
    out["lengths"] = {
        "prompt_tokens": _spread([s.request.prompt_tokens for s in done]),
        "new_tokens": _spread([len(s.request.token_times) for s in done]),
    }
    out["ttft_ms"], out["tpot_ms"], out["e2e_ms"] = (
        summarize(np.array([p[key] for p in per])).to_dict() for key in ("ttft_ms", "tpot_ms", "e2e_ms")
    )
    gaps = np.array([g for s in done for g in s.request.gaps_ms()])
    out["itl_ms"] = {**summarize(gaps).to_dict(), "count": int(gaps.size)}
    delays = np.array([(s.submitted - s.request.start) * 1e3 for s in done])
    out["submit_delay_ms"] = {"median": float(np.median(delays)), "max": float(np.max(delays))}
    tokens = sum(len(s.request.token_times) for s in done)
    out["wall_s"] = wall_s
    out["output_tokens_per_s"] = tokens / wall_s
    out["requests_per_s"] = len(done) / wall_s
    met = [meets_slos(p, opts) for p in per] + [False] * len(failed)
    # The interval counts the requests that met the SLOs as a binomial draw (Clopper-Pearson): how far the
    # attainment, and the goodput at this level's rate, could move on a rerun of as many requests.
    low, high = clopper_pearson(sum(met), len(met))
    out["slo"] = {
        "attainment": sum(met) / len(met),
        "attainment_ci95": [low, high],
        "goodput_requests_per_s": sum(met) / wall_s,
        "goodput_ci95": [low * len(met) / wall_s, high * len(met) / wall_s],
    }
    if load.kind == "rate":
        out["overload"] = overload(done, load.value, wall_s)
    keep = ("ttft_ms", "tpot_ms", "e2e_ms", "output_tokens")
    out["raw"] = [
        {"id": s.request_id, "prompt_tokens": s.request.prompt_tokens, **{k: p[k] for k in keep}}
        for s, p in zip(done, per, strict=True)
    ]
    return out


def _errors(failed: Sequence[Served], total: int) -> Errors:
    """Failed requests by kind, the share of the level they are, and the first few causes."""
    kinds: dict[str, int] = {}
    for s in failed:
        kinds[str(s.error)] = kinds.get(str(s.error), 0) + 1
    return {
        "count": len(failed),
        "rate": len(failed) / total if total else 0.0,
        "by_kind": kinds,
        "examples": [f"{s.error}: {s.detail}" for s in failed[:3]],
    }


def unloaded_reference(level: Level) -> dict[str, float]:
    """What one request alone costs (a concurrency-1 level): median TTFT per prompt token, median TPOT."""
    rows = level["raw"]
    per_token = float(np.median([r["ttft_ms"] / max(1, r["prompt_tokens"]) for r in rows]))
    return {
        "ttft_median_ms": float(level["ttft_ms"]["median"]["value"]),
        "ttft_per_prompt_token_ms": per_token,
        "tpot_median_ms": float(level["tpot_ms"]["median"]["value"]),
        "requests": int(level["requests"]),
    }


def queueing(level: Level, alone: dict[str, float]) -> Queueing:
    """TTFT apart into the request's own prefill and the rest: waiting for a place in the batch and sharing
    the steps with other sequences. The prefill alone is the unloaded TTFT scaled by the prompt's length
    (prefill cost is near linear in tokens at these lengths); decode's slowdown is TPOT over TPOT alone."""
    waits = np.array(
        [max(0.0, r["ttft_ms"] - alone["ttft_per_prompt_token_ms"] * r["prompt_tokens"]) for r in level["raw"]]
    )
    tpot = np.array([r["tpot_ms"] for r in level["raw"]])
    return {
        "ttft_beyond_prefill_ms": {
            "median": float(np.median(waits)),
            "p90": float(np.percentile(waits, 90)),
            "p99": float(np.percentile(waits, 99)),
        },
        "share_of_ttft": float(np.sum(waits) / max(1e-9, sum(r["ttft_ms"] for r in level["raw"]))),
        "tpot_over_unloaded": float(np.median(tpot) / alone["tpot_median_ms"]),
        "method": "TTFT minus the unloaded prefill (median TTFT per prompt token alone x prompt tokens)",
    }


def overload(done: list[Served], offered: float, wall_s: float) -> Overload:
    """Whether the arrivals outran the engine: served rate under the offered one and TTFT (which includes the
    wait for a place in the batch) rising from the first third of the arrivals to the last.

    A queue fed faster than it drains grows without bound: a longer run only makes its TTFT worse, so the
    level's percentiles describe the run's length, not a steady state.
    """
    ordered = sorted(done, key=lambda s: s.request.start)
    ttft = [(s.request.token_times[0] - s.request.start) * 1e3 for s in ordered]
    third = max(1, len(ttft) // 3)
    first, last = float(np.median(ttft[:third])), float(np.median(ttft[-third:]))
    served = len(done) / wall_s
    growing = served < 0.9 * offered and last > 2 * first
    out: Overload = {
        "offered_requests_per_s": offered,
        "served_requests_per_s": served,
        "ttft_first_third_ms": first,
        "ttft_last_third_ms": last,
        "overloaded": growing,
    }
    if growing:
        out["verdict"] = (
            f"overloaded: {offered:.3g} req/s offered, {served:.3g} served; TTFT grew from {first:.0f} to "
            f"{last:.0f} ms over the run: the queue grows without bound at this rate"
        )
    return out


def meets_slos(figures: dict[str, float], opts: ServeOptions) -> bool:
    """Whether one request's (or a pooled) TTFT, TPOT and end to end are all within the SLOs."""
    limits = (("ttft_ms", opts.ttft_max_ms), ("tpot_ms", opts.tpot_max_ms), ("e2e_ms", opts.e2e_max_ms))
    return all(bound is None or figures[key] <= bound for key, bound in limits)


# ---------------------------------------------------------------- the highest rate that meets the SLOs


def meets_p99(level: Level, opts: ServeOptions) -> bool:
    """Whether a level's p99 TTFT, TPOT and end to end are all within the given SLOs."""
    bounds = (("ttft_ms", opts.ttft_max_ms), ("tpot_ms", opts.tpot_max_ms), ("e2e_ms", opts.e2e_max_ms))
    if level.get("aborted") or "ttft_ms" not in level:  # too many failures: no rate that fails them is met
        return False
    return all(bound is None or p99s(level)[key] <= bound for key, bound in bounds)


def find_peak(
    engine: ServingEngine, prompts: Callable[[int], list[int]], opts: ServeOptions, steps: int = 6, progress: Any = None
) -> PeakSearch:
    """Bisect the arrival rate for the highest one whose p99s meet every SLO (the one rate search: each step
    the majority of two short runs, a third when they disagree), then confirm it with a run of twice the
    requests, stepping down after a miss. The search starts from the closed-loop capacity at ``max_num_seqs``
    in flight (no arrival rate above it can be served) and halves the bracket ``steps`` times."""
    if opts.ttft_max_ms is None and opts.tpot_max_ms is None and opts.e2e_max_ms is None:
        raise ConfigError("finding the peak rate needs an SLO: `ttft_max_ms`, `tpot_max_ms` or `e2e_max_ms`")
    capacity = run_load(engine, prompts, Load("concurrency", opts.max_num_seqs), opts)["requests_per_s"]

    def judge(rate: float, _step: int) -> tuple[bool, list[dict[str, Any]]]:
        def draw(_k: int) -> tuple[bool, dict[str, Any]]:
            if progress is not None:
                progress(f"peak search: {rate:.3g} req/s")
            level = run_load(engine, prompts, Load("rate", rate), opts)
            return meets_p99(level, opts), p99s(level)

        return majority(draw)

    search = bisect_rate(judge, 0.0, capacity, steps=steps)
    trials = [
        {"rate": t["rate"], "met": t["meets_bound"], "draws": t["draws"], **t["draws"][-1]} for t in search.trials
    ]
    out: PeakSearch = {"capacity_requests_per_s": capacity, "trials": trials, "rate": search.best}
    if search.best is not None:
        confirmation = _confirm(engine, prompts, opts, search.best, progress)
        out["confirm"], out["confirm_attempts"] = confirmation["confirm"], confirmation["confirm_attempts"]
        out["confirmed"], out["confirmed_rate"] = confirmation["confirmed"], confirmation["confirmed_rate"]
    return out


def p99s(level: Level) -> dict[str, float]:
    """The level's p99 TTFT, TPOT and end to end (those it has)."""
    figures = {"ttft_ms": level.get("ttft_ms"), "tpot_ms": level.get("tpot_ms"), "e2e_ms": level.get("e2e_ms")}
    return {k: float(v["p99"]["value"]) for k, v in figures.items() if v is not None}


def _confirm(
    engine: ServingEngine, prompts: Callable[[int], list[int]], opts: ServeOptions, rate: float, progress: Any
) -> Confirmation:
    """Run the bisected rate again with twice the requests, stepping down after a miss (the one rate search's
    confirmation). A rate found by short runs near the capacity can pass on a lucky draw: the confirmed
    rate is the one a longer run held."""
    longer = replace(opts, requests=2 * opts.requests)
    last: dict[str, Level] = {}

    def run(at: float, _attempt: int) -> tuple[bool, dict[str, Any]]:
        if progress is not None:
            progress(f"confirming {at:.3g} req/s with {longer.requests} requests")
        last["level"] = run_load(engine, prompts, Load("rate", at), longer)
        return meets_p99(last["level"], opts), p99s(last["level"])

    confirmed, attempts = confirm_stepping_down(run, rate)
    return {
        "confirm": last["level"],
        "confirm_attempts": [a | {"met": a["meets_bound"]} for a in attempts],
        "confirmed": confirmed is not None,
        "confirmed_rate": confirmed,
    }


def _spread(values: list[int]) -> dict[str, float]:
    return {"min": float(min(values)), "median": float(np.median(values)), "max": float(max(values))}
