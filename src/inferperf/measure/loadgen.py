"""MLPerf LoadGen scenarios (SingleStream, MultiStream, Server, Offline) over any backend: options, settings,
the probe and the service times, the peak search and the ideal queue. The SUT, the run and LoadGen's logs
are ``measure.loadgen_sut``.

LoadGen (``pip install mlcommons-loadgen``, imported as ``mlperf_loadgen``)
generates the load, times every query and judges validity; inferperf supplies
the system under test (SUT) and the query sample library (QSL):

* the SUT hands LoadGen's samples to a feeder thread (LoadGen's issue thread is
  never blocked, so Poisson arrivals stay on schedule) which submits each one to
  the engine's asynchronous requests (``Engine.start_async``); every completion
  callback reports straight to ``QuerySamplesComplete``. No extra hop sits
  between the runtime's completion and LoadGen's clock.
* the QSL is the input sets already in memory, so load/unload are no-ops.

LoadGen's own log files stay in the output folder; the figures in the result
document are read back from its detail log (``mlperf_log_detail.txt``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from inferperf.backends.base import Backend, DimBound, Engine, InputSet
from inferperf.config import RunLimits, RuntimeConfig, Scenario
from inferperf.errors import BackendError, ConfigError, InputSpecError
from inferperf.jsonform import NOT_IN_JSON, JsonRecord, json_key
from inferperf.measure.loadgen_sut import (
    LoadGenRun,
    Result,
    SampleGroups,
    Settings,
    read_accuracy_log,
    run_loadgen,
    score_outputs,
)
from inferperf.measure.queue import IdealPeak, IdealQueue, Unjudged, ideal_p99, ideal_peak, overhead_ratio
from inferperf.measure.rate_search import bisect_rate, confirm_stepping_down, majority
from inferperf.measure.scoring import Scores
from inferperf.model.info import ModelInfo

SCENARIOS: tuple[str, ...] = ("single-stream", "multi-stream", "server", "offline")
_LG_NAMES = {"single-stream": "SingleStream", "multi-stream": "MultiStream", "server": "Server", "offline": "Offline"}
# Smallest query counts for which LoadGen's early-stopping check can pass with no query over the
# bound (SingleStream p90: 64; MultiStream and Server p99: 662 and ~459). Fewer is always INVALID.
_MIN_QUERIES = {"single-stream": 64, "multi-stream": 662, "server": 500, "offline": 1}
# LoadGen sizes the single Offline query as 1.1 x expected QPS x min duration; a rate above that
# ends the run early (INVALID: min duration not met), so the warm-up estimate gets headroom.
_OFFLINE_HEADROOM = 1.5


@dataclass(frozen=True)
class ScenarioOptions(JsonRecord):
    """What to ask of LoadGen. ``None`` fields are derived from the warm-up probe (and say so in the result)."""

    scenario: str = "offline"
    target_qps: float | None = None  # Server arrival rate; default half the warm-up throughput
    p99_max_ms: float | None = None  # Server/MultiStream latency bound; default 3x the warm-up median
    min_duration_s: float = 10.0
    min_query_count: int | None = None  # default: the fewest queries early stopping can accept
    max_duration_s: float | None = None  # cap (LoadGen's max_duration_ms): a slow rate cannot run for hours
    samples_per_query: int = 8  # MultiStream
    batch: int = 1  # samples stacked into one inference (Offline, MultiStream: a query's samples)
    warmup_s: float = 2.0
    find_peak: bool = False
    peak_steps: int = 6
    peak_run_s: float = 4.0
    accuracy: bool = False
    trace: bool = False
    stall_s: float = 60.0  # no completion for this long while samples are outstanding: a failure

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ConfigError(f"invalid scenario {self.scenario!r}: expected one of {', '.join(SCENARIOS)}")
        for name in (
            "target_qps",
            "p99_max_ms",
            "min_duration_s",
            "min_query_count",
            "max_duration_s",
            "peak_run_s",
            "stall_s",
        ):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"invalid {name.replace('_', ' ')} {value!r}: must be > 0")
        if self.samples_per_query < 1 or self.peak_steps < 1 or self.batch < 1:
            raise ConfigError("samples per query, batch and peak steps must be at least 1")
        if self.batch > 1 and self.scenario not in ("offline", "multi-stream"):
            # Batches are made of one query's samples: Server and SingleStream queries hold one sample.
            raise ConfigError(
                f"`batch` {self.batch} stacks one query's samples: use it with `scenario` offline or multi-stream "
                f"({self.scenario} queries hold one sample each)"
            )
        if self.find_peak and self.scenario != "server":
            raise ConfigError("`find_peak` searches Server arrival rates: use it with `scenario` server")
        if self.find_peak and self.accuracy:
            raise ConfigError("`find_peak` and `accuracy` are separate runs: pick one")


@dataclass(frozen=True)
class Probe(JsonRecord):
    """What the warm-up saw with the run's engine and requests: the source of derived settings."""

    throughput: float = field(metadata=json_key("throughput_fps"))
    median_ms: float
    p99_ms: float
    count: int
    # The steady per-request latencies of the closed loop. With one request per executor in flight, each is
    # the service time of one server of the ideal queue (see service_probe). Not in to_dict: the ideal
    # queue's figures say how many there were and what they average.
    latencies_ms: tuple[float, ...] = field(default=(), repr=False, compare=False, metadata=NOT_IN_JSON)


def probe(
    engine: Engine, input_sets: Sequence[InputSet], requests: int, seconds: float, whole_pass: bool = False
) -> Probe:
    """Warm the engine up with its own closed loop and measure rate and latency on the way.

    ``whole_pass`` (a shape stream): run the whole QSL once instead, so the rate and median that size
    the scenario are those of the mix, and every shape has been seen once before LoadGen starts.
    """
    from inferperf.measure.runner import Collector

    limits = RunLimits(iterations=len(input_sets)) if whole_pass else RunLimits(time_s=max(seconds, 0.2))
    col = Collector(limits)
    engine.run_requests(input_sets, requests, col)
    lat = np.asarray(col.latencies_ms)
    if lat.size == 0:
        raise BackendError("the warm-up completed no inference")
    elapsed = max(max(col.done_at) - col.start, 1e-9)
    # Each request's first inference touches cold buffers: the service samples keep the steady ones.
    steady = lat[requests:] if lat.size > 2 * requests else lat
    return Probe(
        lat.size / elapsed,
        float(np.median(lat)),
        float(np.percentile(lat, 99)),
        int(lat.size),
        latencies_ms=tuple(steady.tolist()),
    )


class ScenarioBody(TypedDict, total=False):
    """What a LoadGen scenario adds to its result document: the engine's set-up and warm-up, then the
    performance test's (``derived``, ``service`` on Server, ``peak`` when searched, ``settings``,
    ``result``: None when no rate passed) or the accuracy test's (``settings``, ``result``, ``accuracy``)."""

    config: dict[str, Any]
    effective: dict[str, Any]
    phases_ms: dict[str, float | None]
    probe: dict[str, Any]
    derived: dict[str, str]
    service: dict[str, Any]
    peak: Peak
    settings: Settings
    result: Result | None
    accuracy: Scores


class Peak(TypedDict):
    """The peak search of a Server run: the bisection's trials, the rate found, the confirming runs and the
    ideal queue's peak under the same bound."""

    bound_ms: float
    trials: list[dict[str, Any]]
    peak_qps: float | None
    bracket: list[float]
    ideal_queue: NotRequired[IdealPeak]
    confirm_attempts: NotRequired[list[dict[str, Any]]]
    confirmed_qps: NotRequired[float | None]


def settings_values(opts: ScenarioOptions, probe_: Probe, *, target_qps: float | None = None) -> Settings:
    """The TestSettings fields for a run, by LoadGen attribute name (plain values, JSON-ready)."""
    min_queries = opts.min_query_count or _MIN_QUERIES[opts.scenario]
    values: Settings = {
        "scenario": _LG_NAMES[opts.scenario],
        "min_duration_ms": int(opts.min_duration_s * 1000),
        "min_query_count": min_queries,
    }
    if opts.max_duration_s is not None:
        values["max_duration_ms"] = int(opts.max_duration_s * 1000)
    expected_ns = int(probe_.median_ms * 1e6)
    if opts.scenario == "single-stream":
        values["single_stream_expected_latency_ns"] = expected_ns
    elif opts.scenario == "multi-stream":
        values["multi_stream_samples_per_query"] = opts.samples_per_query
        # LoadGen pre-generates min_duration / expected latency queries: an expected latency above the real one
        # (the old median x samples per query ignored the requests in flight) generated too few to fill the
        # minimum duration: INVALID. A query's samples at the probe's full rate (samples/s) is the estimate.
        values["multi_stream_expected_latency_ns"] = int(1e9 * opts.samples_per_query / probe_.throughput)
    elif opts.scenario == "server":
        values["server_target_qps"] = target_qps or opts.target_qps or probe_.throughput / 2
        values["server_target_latency_ns"] = int(latency_bound_ms(opts, probe_) * 1e6)
    else:
        values["offline_expected_qps"] = probe_.throughput * _OFFLINE_HEADROOM
    return values


def latency_bound_ms(opts: ScenarioOptions, probe_: Probe) -> float:
    """The p99 bound: the user's, else 3x the warm-up's median request latency."""
    return opts.p99_max_ms if opts.p99_max_ms is not None else 3 * probe_.median_ms


_PEAK_MIN_QUERIES = 32  # per short run: fewer make its p99 the maximum of a few samples
RunAt = Callable[[float, str], Result]  # (target qps, step and draw label) -> parsed LoadGen result


def meets_bound(result: Result, bound_ms: float) -> bool:
    """A short run passes when its p99 is within the bound and the SUT kept up with the arrivals.

    Short runs cannot satisfy early stopping, so LoadGen's VALID is not asked of them.
    """
    p99 = result["latency_ms"].get("p99")
    done, scheduled = _completed(result), result.get("scheduled_samples_per_second")
    # A rate over a handful of queries is mostly noise: judge keeping up on longer runs only.
    enough = (result.get("query_count") or 0) >= _PEAK_MIN_QUERIES
    kept_up = not enough or not done or not scheduled or done >= 0.95 * scheduled
    return p99 is not None and p99 <= bound_ms and kept_up


def _completed(result: Result) -> Any:
    """A performance run's completed samples per second (None for an accuracy run: no metric)."""
    metric = result.get("metric")
    return metric["value"] if metric else None


def find_peak(run_at: RunAt, low: float, high: float, bound_ms: float, steps: int) -> Peak:
    """Bisect the arrival rate in [low, high] for the highest whose p99 meets ``bound_ms``: the one rate search
    (``measure.rate_search``), each step judged by the majority of up to three short runs. The ideal peak
    beside it is judged on the median of many simulated draws."""

    def judge(qps: float, step: int) -> tuple[bool, list[dict[str, Any]]]:
        def draw(k: int) -> tuple[bool, dict[str, Any]]:
            result = run_at(qps, f"{step:02d}-{k}")
            record = {"p99_ms": result["latency_ms"].get("p99"), "completed_qps": _completed(result)}
            return meets_bound(result, bound_ms), record

        return majority(draw)

    search = bisect_rate(judge, low, high, steps=steps)
    trials = [
        {
            "target_qps": t["rate"],
            "p99_ms": _median_or_none([d["p99_ms"] for d in t["draws"]]),
            "meets_bound": t["meets_bound"],
            "completed_qps": _median_or_none([d["completed_qps"] for d in t["draws"]]),
            "draws": t["draws"],
        }
        for t in search.trials
    ]
    return {"bound_ms": bound_ms, "trials": trials, "peak_qps": search.best, "bracket": [search.low, search.high]}


def _median_or_none(values: Sequence[float | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return float(np.median(known)) if known else None


# ---------------------------------------------------------------- Server: against the ideal queue


def expected_queries(values: Settings, rate: float) -> int:
    """How many queries LoadGen issues in a Server run at ``rate``: the min duration's worth, at least
    the min query count, at most the max duration's worth."""
    count = max(int(values.get("min_query_count") or 1), math.ceil(rate * float(values["min_duration_ms"]) / 1e3))
    cap = values.get("max_duration_ms")
    if cap:
        count = min(count, max(1, math.ceil(rate * float(cap) / 1e3)))
    return int(count)


def server_ideal_queue(
    warm: Probe, servers: int, rate: float, queries: int, latencies_ms: Sequence[float]
) -> IdealQueue | None:
    """The ideal M/G/c queue of this run (service times from a closed loop with c = the engine's executors
    in flight, the run's rate and query count) and the SUT's overhead over it: measured p99 / ideal p99.

    None without service samples or measured latencies (nothing to judge).
    """
    if not warm.latencies_ms or not latencies_ms:
        return None
    source = f"a closed loop with {servers} request(s) in flight, one per executor"
    return _judged_queue(warm.latencies_ms, source, (rate, servers, queries), latencies_ms)


def _judged_queue(
    service_ms: Sequence[float], source: str, load: tuple[float, int, int], latencies_ms: Sequence[float]
) -> IdealQueue:
    """The ideal queue for ``service_ms`` at ``load`` (rate, servers, queries), and measured p99 / its p99."""
    rate, servers, queries = load
    ideal = ideal_p99(service_ms, rate, servers, max(queries, 1))
    ideal["service_from"] = source
    ideal["overhead"] = {**overhead_ratio(latencies_ms, ideal), "measured_from": "SUT clock from LoadGen's issue"}
    return ideal


_SERVICE_SAMPLES, _SERVICE_MAX_S = 200, 15.0


def service_probe_s(warm: Probe, warmup_s: float) -> float:
    """How long to sample service times: ~200 of them at the warm-up's rate (the ideal queue's p99 rests on
    their tail; a 1-s probe gave 17 on ResNet-50, which left its interval +-17%), at most 15 s."""
    return min(_SERVICE_MAX_S, max(warmup_s / 2, _SERVICE_SAMPLES / max(warm.throughput, 1e-9)))


def service_probe(engine: Engine, sets: Sequence[InputSet], requests: int, warm: Probe, seconds: float) -> Probe:
    """Service times of the engine's executors: the warm-up's when every request runs at once, else a closed
    loop with one request per executor (a request queued inside the runtime would count its wait as service)."""
    servers = engine.executors(requests)
    if servers >= requests:
        return warm
    return probe(engine, sets, servers, max(seconds, 0.5))


def _ideal_of_run(service: Probe, servers: int, values: Settings, result: Result, run: LoadGenRun) -> None:
    # Server only: LoadGen issued ``query_count`` queries at ``server_target_qps``; the SUT timed each.
    queries = result.get("query_count")
    latencies = [ms for _, ms in run.timings]
    count = queries if isinstance(queries, int) and queries > 0 else len(latencies)
    rate = float(values["server_target_qps"])
    ideal = server_ideal_queue(service, servers, rate, count, latencies)
    if ideal is not None:
        ideal["in_run"] = in_run_ideal_queue(run.service_ms, servers, rate, count, latencies)
        result["ideal_queue"] = ideal


_MIN_IN_RUN_SAMPLES = 50  # below this the simulated p99 would rest on a handful of service times


def in_run_ideal_queue(
    service_ms: Sequence[float], servers: int, rate: float, queries: int, latencies_ms: Sequence[float]
) -> IdealQueue | Unjudged:
    """The ideal M/G/c queue with this run's own service times: the SUT's overhead alone.

    The probe's service times come from a few seconds before the run; on a machine whose speed drifts by
    10-30% over a minute (shared VMs), the measured/probe ratio mixes that drift with the SUT's cost.
    Inferences that started with an executor free took their service time and nothing else, so the queue
    they imply is what a perfect SUT would have shown on the machine as it was during the run. They lean
    towards lightly loaded moments (slightly shorter services), which makes the ratio conservative.
    """
    if len(service_ms) < _MIN_IN_RUN_SAMPLES or not latencies_ms:
        return {
            "stable": None,
            "why": f"{len(service_ms)} inferences started on a free executor (at least {_MIN_IN_RUN_SAMPLES} needed)",
        }
    source = f"{len(service_ms)} of this run's inferences that started on a free executor"
    return _judged_queue(service_ms, source, (rate, servers, queries), latencies_ms)


# ---------------------------------------------------------------- the whole test


@dataclass(frozen=True)
class ScenarioTarget:
    """What a scenario runs: a backend, a model at static shapes, its inputs and, for accuracy, labels.

    With a shape stream (``--shapes``), ``ranges`` opens the varying dims (one dynamic engine) and
    ``groups`` names each sample's shape group, so latency is reported per group too.
    """

    backend: Backend
    model: ModelInfo
    shapes: dict[str, tuple[int, ...]]
    input_sets: Sequence[InputSet]
    config: RuntimeConfig
    labels: np.ndarray | None = None
    ranges: dict[str, tuple[DimBound, ...]] | None = None
    groups: SampleGroups | None = None


Status = Callable[[str], None]


def engine_scenario(opts: ScenarioOptions) -> Scenario:
    """The runtime set-up a LoadGen scenario wants: one stream for SingleStream, throughput otherwise."""
    return "latency" if opts.scenario == "single-stream" else "throughput"


def run_scenario_test(
    target: ScenarioTarget, opts: ScenarioOptions, out_dir: Path, status: Status | None = None
) -> ScenarioBody:
    """Compile once, warm up (the probe), then the LoadGen test(s); the result document's body."""
    say = status or _quiet
    config = target.backend.configure(target.config, engine_scenario(opts))
    say(f"compiling for {engine_scenario(opts)}" + (" with open dims" if target.ranges else ""))
    if target.ranges is not None:
        if opts.batch > 1:
            raise ConfigError("`batch` stacks samples of one shape: not with a shape stream")
        engine = target.backend.compile_dynamic(target.model, target.ranges, config)
    else:
        engine = target.backend.compile(target.model, batched_shapes(target.shapes, opts.batch), config)
    try:
        probe_sets = stacked_sets(target.input_sets, opts.batch)
        t0 = time.perf_counter()
        engine.infer(probe_sets[0])
        first_ms = (time.perf_counter() - t0) * 1e3
        requests = 1 if opts.scenario == "single-stream" else (config.requests or engine.default_requests())
        span = f"one pass over the {len(target.input_sets)}-sample stream" if target.ranges else f"{opts.warmup_s:g} s"
        say(
            f"warming up: {span} with {requests} request(s) in flight"
            + f", {opts.batch} samples each" * (opts.batch > 1)
        )
        warm = probe(engine, probe_sets, requests, opts.warmup_s, whole_pass=target.ranges is not None)
        # Rates in samples/s (what LoadGen counts); latencies stay those of one inference.
        warm = replace(warm, throughput=warm.throughput * opts.batch)
        phases = {**engine.phases_ms, "first_inference": first_ms}
        ready = _Ready(engine, target, requests, opts, warm, out_dir, say)
        body = _accuracy_test(ready) if opts.accuracy else _performance_test(ready)
        effective = {**engine.effective(), "requests_in_flight": requests}
    finally:
        engine.close()
    head: ScenarioBody = {
        "config": config.to_dict(),
        "effective": effective,
        "phases_ms": phases,
        "probe": warm.to_dict(),
    }
    return {**head, **body}


def batched_shapes(shapes: dict[str, tuple[int, ...]], batch: int) -> dict[str, tuple[int, ...]]:
    """The engine's input shapes for ``batch`` samples stacked on axis 0 (each sample holds one item)."""
    return shapes if batch == 1 else {k: (v[0] * batch, *v[1:]) for k, v in shapes.items()}


def stacked_sets(sets: Sequence[InputSet], batch: int) -> list[InputSet]:
    """Consecutive samples stacked ``batch`` at a time (wrapping round), as the SUT feeds them."""
    if batch == 1:
        return list(sets)
    n = max(1, len(sets) // batch) * batch
    out = []
    for start in range(0, n, batch):
        idx = [(start + j) % len(sets) for j in range(batch)]
        out.append({k: np.concatenate([sets[i][k] for i in idx], axis=0) for k in sets[idx[0]]})
    return out


@dataclass(frozen=True)
class _Ready:
    """A test's starting point: the compiled engine, warmed up with this many requests in flight."""

    engine: Engine
    target: ScenarioTarget
    requests: int
    opts: ScenarioOptions
    warm: Probe
    out_dir: Path
    say: Status

    def parts(self) -> tuple[Engine, ScenarioTarget, int, ScenarioOptions, Probe, Path, Status]:
        """The fields in order (a shallow astuple: the engine is not copied)."""
        return self.engine, self.target, self.requests, self.opts, self.warm, self.out_dir, self.say


def _quiet(_: str) -> None:
    return None


def _performance_test(ready: _Ready) -> ScenarioBody:
    engine, target, requests, opts, warm, out_dir, say = ready.parts()
    sets = target.input_sets
    body: ScenarioBody = {"derived": _derived(opts, warm)}
    target_qps = None
    service, servers = warm, requests
    if opts.scenario == "server":
        servers = engine.executors(requests)
        if servers < requests:
            say(f"service times of the {servers} executor(s): a closed loop with one request each")
        service = service_probe(engine, sets, requests, warm, service_probe_s(warm, opts.warmup_s))
        body["service"] = {"executors": servers, "requests_in_flight": requests, **service.to_dict()}
    if opts.find_peak:
        peak = _find_peak(engine, sets, requests, opts, (warm, service, servers), out_dir, say)
        peak["confirm_attempts"], peak["confirmed_qps"] = [], None
        body["peak"] = peak
        target_qps = peak["peak_qps"]
        if target_qps is None:
            body["result"] = None
            return body
    last: dict[str, Any] = {}

    def one_run(rate: float | None, attempt: int) -> tuple[bool, dict[str, Any]]:
        values = settings_values(opts, warm, target_qps=rate)
        say(f"LoadGen {values['scenario']} run" + (f" (confirming {rate:.2f} q/s)" if opts.find_peak else ""))
        body["settings"] = values
        logs = out_dir / ("loadgen" if attempt == 0 else f"loadgen-{attempt + 1}")
        run = LoadGenRun(logs, values, trace=opts.trace, stall_s=opts.stall_s, groups=target.groups, batch=opts.batch)
        result = body["result"] = run_loadgen(engine, sets, requests, run)
        last.update(run=run, values=values, result=result)
        record = {"target_qps": rate, "validity": result.get("validity"), "log_dir": str(logs)}
        return bool(result.get("valid")), record

    if opts.find_peak and target_qps is not None:
        # The bisected rate sits at the edge: a full run's early stopping may refuse a handful of queries
        # over the bound that the short runs did not draw, so the confirming run steps down after a miss.
        confirmed, tried = confirm_stepping_down(one_run, target_qps)
        peak["confirm_attempts"], peak["confirmed_qps"] = tried, confirmed
    else:
        one_run(target_qps, 0)
    run, values = last["run"], last["values"]
    if opts.scenario == "server":
        say(f"simulating the ideal M/G/{servers} queue at the same arrival rate")
        _ideal_of_run(service, servers, values, last["result"], run)
    return body


def _derived(opts: ScenarioOptions, warm: Probe) -> dict[str, str]:
    """Which settings came from the warm-up rather than from the user."""
    notes = {}
    if opts.scenario == "server" and opts.target_qps is None and not opts.find_peak:
        notes["target_qps"] = "half the warm-up throughput"
    if opts.scenario in ("server", "multi-stream") and opts.p99_max_ms is None:
        notes["target_latency"] = "3x the warm-up median request latency"
    if opts.scenario == "offline":
        notes["offline_expected_qps"] = f"{_OFFLINE_HEADROOM}x the warm-up throughput"
    if opts.min_query_count is None:
        notes["min_query_count"] = "the fewest queries LoadGen's early stopping can accept"
    return notes


def _find_peak(
    engine: Engine,
    sets: Sequence[InputSet],
    requests: int,
    opts: ScenarioOptions,
    probes: tuple[Probe, Probe, int],
    out_dir: Path,
    say: Status,
) -> Peak:
    warm, service, servers = probes  # the warm-up, the executors' service times, how many executors
    short = ScenarioOptions(
        scenario="server",
        p99_max_ms=latency_bound_ms(opts, warm),
        min_duration_s=opts.peak_run_s,
        min_query_count=_PEAK_MIN_QUERIES,
        max_duration_s=opts.max_duration_s,
    )

    def run_at(qps: float, label: str) -> Result:
        step, _, draw = label.partition("-")
        say(f"peak search {int(step)}/{opts.peak_steps} (run {draw}): {qps:.2f} queries/s for {opts.peak_run_s:g} s")
        values = settings_values(short, warm, target_qps=qps)
        return run_loadgen(
            engine, sets, requests, LoadGenRun(out_dir / "peak" / f"step-{label}", values, stall_s=opts.stall_s)
        )

    # The closed loop's rate is the most any arrival rate can be served at.
    bound = latency_bound_ms(opts, warm)
    peak = find_peak(run_at, 0.0, warm.throughput, bound, opts.peak_steps)
    if service.latencies_ms:
        # The same bound, judged on ideal runs as long as the short ones the measured peak was found on.
        say(f"the ideal M/G/{servers} queue's peak under the same bound")
        short_values = settings_values(short, warm, target_qps=1.0)
        peak["ideal_queue"] = ideal_peak(
            service.latencies_ms, servers, bound, lambda rate: expected_queries(short_values, rate)
        )
    return peak


def _accuracy_test(ready: _Ready) -> ScenarioBody:
    engine, target, requests, opts, warm, out_dir, say = ready.parts()
    if target.labels is None:
        raise InputSpecError("accuracy mode needs labelled data (`data` with labels, or 'builtin')")
    values = settings_values(opts, warm)
    run = LoadGenRun(out_dir / "accuracy", values, accuracy=True, stall_s=opts.stall_s, batch=opts.batch)
    say(f"LoadGen {values['scenario']} accuracy run over {len(target.input_sets)} samples")
    result = run_loadgen(engine, target.input_sets, requests, run)
    if run.output_meta is None:
        raise BackendError("LoadGen issued no sample in accuracy mode")
    outputs = read_accuracy_log(run.out_dir / "mlperf_log_accuracy.json", run.output_meta)
    return {"settings": values, "result": result, "accuracy": score_outputs(outputs, target.labels)}
