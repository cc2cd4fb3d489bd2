"""Dynamic-shape workloads: one seeded shape stream, several ways to compile for it, compared side by side.

Strategies (each fed the very same stream of inputs):

- ``dynamic``: one engine with the varying dimensions left open (OpenVINO ``-1``;
  an ONNX Runtime session as is); every input runs at its own shape.
- ``bounded``: OpenVINO only: the open dimensions get an interval (low..high), which lets the
  CPU plug-in size its buffers once.
- ``buckets``: one static engine per bucket; each input is zero-padded up to its bucket
  (masks padded with 0, so the model ignores the padding). The padded share of the
  elements is the padding waste.
- ``largest``: one static engine at the largest shape; every input is padded to it.

Each strategy is compiled (compile time, resident memory it adds) and given one warm pass
over the stream, in which every input whose engine-facing shape is new is timed apart
(first-call cost: OpenVINO specialises kernels per shape on first sight). Then come
``rounds`` measured passes. With one request in flight every input runs on each strategy
back to back, in rotating order (throughput is then 1 / mean latency); with more, the
strategies take whole passes in rotating order. Either way the machine's drift hits all
alike, and the winner is named from the paired per-round throughput ratios.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.base import AsyncRequests, Backend, Engine, InputSet
from inferperf.config import RuntimeConfig
from inferperf.errors import BackendError, ConfigError, InferperfError
from inferperf.inputs.distribution import (
    ResolvedGroup,
    StreamItem,
    bin_order,
    bin_sizes,
)
from inferperf.measure.dynamic_plan import (
    HANG_S,
    STRATEGIES,
    Plan,
    Progress,
    _pad,
    padding_waste,
    plan_strategy,
    stream_inputs,
)
from inferperf.model.info import ModelInfo
from inferperf.stats import between_repeats_half_width, paired_ratio_ci, summarize


class FirstSight(TypedDict):
    """First inference on each new engine-facing shape against the steady median of its group."""

    new_shapes: int
    median_ratio: float | None
    max_ratio: float | None
    extra_ms_total: float
    first_pass_s: float
    steady_pass_s: float


class Strategy(TypedDict, total=False):
    """One strategy's record: measured (``status`` ok) or why it failed (``status`` failed, ``error``)."""

    name: str
    status: str
    error: str
    engines: list[dict[str, list[Any]]]
    compile_ms: float
    memory_added_mb: float | None
    padding_waste: Any
    throughput: dict[str, Any]  # mean over rounds, t-interval, per-round values
    latency_ms: dict[str, Any]
    groups: list[dict[str, Any]]
    first_sight: FirstSight
    effective: dict[str, Any]
    samples: dict[str, list[list[float]]]


class Verdict(TypedDict):
    """The best strategy by throughput, the ones it does not beat significantly, and in words."""

    winner: str | None
    fastest: str | None
    tied: list[str]
    vs: list[dict[str, Any]]
    verdict: str


class Strategies(TypedDict):
    """Every strategy's record in the order asked, and which one won."""

    strategies: list[Strategy]
    comparison: Verdict


Records = dict[str, Strategy]
"""Strategy name -> its record, as each finishes or fails."""


NOISE_FLOOR = 0.02  # a lead under 2% is not called a win (compare's default threshold, the noise floor here)


@dataclass(frozen=True)
class DynamicOptions:
    """What to compare and for how long."""

    strategies: tuple[str, ...] = STRATEGIES
    stream: int = 100  # inputs per pass
    rounds: int = 3  # measured passes per strategy, interleaved
    requests: int = 1  # in flight; 1 = latency scenario
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown or not self.strategies:
            raise ConfigError(f"unknown strategy {', '.join(unknown) or '(none)'}: choose from {', '.join(STRATEGIES)}")
        if self.stream < 1 or self.rounds < 1 or self.requests < 1:
            raise ConfigError("`stream`, --rounds and --requests must be at least 1")


@dataclass
class Live:
    """A compiled strategy: its engines and measurements so far."""

    plan: Plan
    engines: list[Engine]
    feeds: list[InputSet]
    compile_ms: float
    rss_before_mb: float | None  # resident memory before compiling, for the memory the strategy adds
    memory_added_mb: float | None = None
    first_pass: dict[str, Any] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    driver: _Driver | None = None


def _rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return float(psutil.Process().memory_info().rss) / 2**20


def _compile_ms(engine: Engine) -> float:
    return float(sum(v for v in engine.phases_ms.values() if v is not None))


def compile_plan(
    backend: Backend, info: ModelInfo, plan: Plan, inputs: Sequence[InputSet], config: RuntimeConfig
) -> Live:
    """Compile every engine of a plan; the padded feeds are made here, outside any timing."""
    if plan.name == "bounded" and not backend.bounded_dims:
        raise ConfigError(f"the bounded strategy needs interval dimensions, which {backend.name} does not have")
    gc.collect()
    before = _rss_mb()
    engines: list[Engine] = []
    try:
        for ranges in plan.engines:
            if all(isinstance(d, int) for dims in ranges.values() for d in dims):
                static = {n: tuple(int(d) for d in dims if isinstance(d, int)) for n, dims in ranges.items()}
                engines.append(backend.compile(info, static, config))
            else:
                engines.append(backend.compile_dynamic(info, ranges, config))
    except BaseException:
        for e in engines:
            e.close()
        raise
    feeds = [_pad(x, f) for x, f in zip(inputs, plan.feed_shapes, strict=True)]
    compile_ms = sum(_compile_ms(e) for e in engines)
    return Live(plan, engines, feeds, compile_ms, before)  # memory_added_mb is set by the warm pass


class _Driver:
    """Feeds the stream with ``requests`` in flight across a plan's engines (one shared limit).

    Made once per strategy: its engines' async requests live as long as the strategy, so every
    pass reuses warm requests and buffers (new requests per pass would touch fresh memory, and
    requests held by callback cycles would pile up).
    """

    def __init__(self, live: Live, requests: int) -> None:
        self.live = live
        self.requests = requests
        self.slots = threading.BoundedSemaphore(requests)
        self.start = [0.0] * len(live.feeds)
        self.latency_ms = [math.nan] * len(live.feeds)
        self.last_done = 0.0
        self.asyncs: list[AsyncRequests] = [e.start_async(requests, self._done) for e in live.engines]

    def _done(self, tag: int, outputs: dict[str, np.ndarray]) -> None:
        now = time.perf_counter()
        self.latency_ms[tag] = (now - self.start[tag]) * 1e3
        self.last_done = max(self.last_done, now)
        self.slots.release()

    def _acquire(self) -> None:
        # A failed inference never calls back, so its slot never comes free: poll for failures
        # (raised by wait_all) instead of waiting forever.
        deadline = time.perf_counter() + HANG_S
        while not self.slots.acquire(timeout=0.05):
            if any(a.failed() for a in self.asyncs):
                for a in self.asyncs:
                    a.wait_all()
            if time.perf_counter() > deadline:
                raise BackendError(f"no inference of the stream completed within {HANG_S:.0f} s")

    def run(self) -> tuple[list[float], float]:
        """One pass: latency per input (ms) and the pass's wall time (s)."""
        self.latency_ms = [math.nan] * len(self.live.feeds)
        self.last_done = 0.0
        t0 = time.perf_counter()
        for i, feed in enumerate(self.live.feeds):
            self._acquire()
            self.start[i] = time.perf_counter()
            self.asyncs[self.live.plan.route[i]].submit(feed, i)
        for a in self.asyncs:
            a.wait_all()
        if any(math.isnan(x) for x in self.latency_ms):
            raise BackendError("an inference of the stream never completed")
        return list(self.latency_ms), max(self.last_done, t0) - t0

    def run_one(self, i: int) -> float:
        """Input ``i`` alone, waited for: its latency in ms."""
        self._acquire()
        self.start[i] = time.perf_counter()
        self.asyncs[self.live.plan.route[i]].submit(self.live.feeds[i], i)
        self.asyncs[self.live.plan.route[i]].wait_all()
        if math.isnan(self.latency_ms[i]):
            raise BackendError("an inference of the stream never completed")
        value = self.latency_ms[i]
        self.latency_ms[i] = math.nan
        return value


def _driver(live: Live, requests: int) -> _Driver:
    if live.driver is None:
        live.driver = _Driver(live, requests)
    return live.driver


def close_live(live: Live) -> None:
    """Drop the async requests, then the engines."""
    if live.driver is not None:
        for a in live.driver.asyncs:
            a.close()
        live.driver.asyncs = []
    live.driver = None
    for e in live.engines:
        e.close()
    live.engines = []
    gc.collect()


def warm_pass(live: Live, requests: int) -> None:
    """The first pass after compiling: first sight of every shape, and the memory the strategy holds."""
    latencies, wall = _driver(live, requests).run()
    after = _rss_mb()
    before = live.rss_before_mb
    live.memory_added_mb = None if after is None or before is None else after - before
    seen: set[tuple[int, tuple[tuple[str, tuple[int, ...]], ...]]] = set()
    first: list[int] = []
    for i, (engine, shapes) in enumerate(zip(live.plan.route, live.plan.feed_shapes, strict=True)):
        key = (engine, tuple(sorted(shapes.items())))
        if key not in seen:
            seen.add(key)
            first.append(i)
    live.first_pass = {"latency_ms": latencies, "wall_s": wall, "first_sight": first}


def measured_pass(live: Live, requests: int) -> None:
    """One measured pass; appended to the strategy's rounds."""
    latencies, wall = _driver(live, requests).run()
    live.rounds.append({"latency_ms": latencies, "wall_s": wall, "throughput": len(latencies) / wall})


def _bins(items: Sequence[StreamItem], rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order, sizes = bin_order(list(items)), bin_sizes(list(items))
    out = []
    for label in order:
        idx = [i for i, it in enumerate(items) if it.bin == label]
        lat = [r["latency_ms"][i] for r in rounds for i in idx]
        summary = {**summarize(lat).to_dict(), "count": len(lat)}
        out.append({"group": label, "inputs": len(idx), "mean_elements": sizes[label], "latency_ms": summary})
    return out


def _first_sight(items: Sequence[StreamItem], live: Live) -> FirstSight:
    """First inference on each new engine-facing shape against the steady median of its reporting group."""
    first = live.first_pass["first_sight"]
    lat = live.first_pass["latency_ms"]
    steady: dict[str, float] = {}
    for label in {it.bin for it in items}:
        idx = [i for i, it in enumerate(items) if it.bin == label]
        steady[label] = float(np.median([r["latency_ms"][i] for r in live.rounds for i in idx]))
    ratios = [lat[i] / steady[items[i].bin] for i in first]
    extra = [lat[i] - steady[items[i].bin] for i in first]
    return {
        "new_shapes": len(first),
        "median_ratio": float(np.median(ratios)) if ratios else None,
        "max_ratio": float(np.max(ratios)) if ratios else None,
        "extra_ms_total": float(np.sum(extra)) if extra else 0.0,
        "first_pass_s": live.first_pass["wall_s"],
        "steady_pass_s": float(np.median([r["wall_s"] for r in live.rounds])),
    }


def summarize_strategy(items: Sequence[StreamItem], live: Live) -> Strategy:
    """The JSON record of a measured strategy."""
    tputs = [r["throughput"] for r in live.rounds]
    mean = float(np.mean(tputs))
    half = between_repeats_half_width(tputs)
    pooled = [x for r in live.rounds for x in r["latency_ms"]]
    return {
        "name": live.plan.name,
        "status": "ok",
        "engines": [
            {n: [list(d) if isinstance(d, tuple) else d for d in dims] for n, dims in e.items()}
            for e in live.plan.engines
        ],
        "compile_ms": live.compile_ms,
        "memory_added_mb": live.memory_added_mb,
        "padding_waste": padding_waste(items, live.plan),
        "throughput": {
            "value": mean,
            "ci95": [max(0.0, mean - half), mean + half],
            "per_round": tputs,
            "ci_method": f"t-interval over {len(tputs)} interleaved rounds",
        },
        "latency_ms": summarize(pooled).to_dict(),
        "groups": _bins(items, live.rounds),
        "first_sight": _first_sight(items, live),
        "effective": live.engines[0].effective() if live.engines else {},
        "samples": {"latency_ms_per_round": [[round(x, 4) for x in r["latency_ms"]] for r in live.rounds]},
    }


def compare_strategies(records: list[Strategy]) -> Verdict:
    """The best measured strategy by throughput, against each other one: paired per-round ratio and interval.

    Strategies the best one does not beat significantly, and by at least ``NOISE_FLOOR``, tie with it at the
    top; the verdict names them,
    and where they tie, the one that compiles faster and holds less memory is worth knowing too.
    """
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return {"winner": None, "fastest": None, "tied": [], "vs": [], "verdict": "no strategy ran"}
    best = max(ok, key=lambda r: r["throughput"]["value"])
    rivals: list[dict[str, Any]] = []
    for r in ok:
        if r is best:
            continue
        ci = paired_ratio_ci(best["throughput"]["per_round"], r["throughput"]["per_round"])
        # Ahead means ahead beyond the noise floor too: a 1% lead on a tight interval is still a tie in practice.
        ahead = ci.low > 1.0 and ci.value >= 1.0 + NOISE_FLOOR
        rivals.append({"name": r["name"], "ratio": ci.value, "ci95": [ci.low, ci.high], "significant": ahead})
    tied = [r["name"] for r in rivals if not r["significant"]]
    beaten = [f"{r['name']} (x{r['ratio']:.2f})" for r in rivals if r["significant"]]
    if not rivals:
        verdict = f"{best['name']} is the only strategy measured"
    elif not tied:
        verdict = f"{best['name']} wins for this distribution, significantly ahead of " + ", ".join(beaten)
    else:
        top = [best, *[r for r in ok if r["name"] in tied]]
        lighter = min(top, key=lambda r: (r["memory_added_mb"] or 0.0, r["compile_ms"]))
        verdict = (
            f"no significant winner: {' and '.join(r['name'] for r in top)} tie at the top"
            + (f", significantly ahead of {', '.join(beaten)}" if beaten else "")
            + f"; of the tied, {lighter['name']} holds the least memory "
            f"({lighter['memory_added_mb'] or 0:.0f} MB added, compile {lighter['compile_ms']:.0f} ms)"
        )
    return {
        "winner": None if tied else best["name"],
        "fastest": best["name"],
        "tied": tied,
        "vs": rivals,
        "verdict": verdict,
    }


def _failed(name: str, exc: InferperfError) -> Strategy:
    return {"name": name, "status": "failed", "error": exc.one_line()}


def _prepare(
    compile_strategy: Callable[[str], Live],
    options: DynamicOptions,
    records: Records,
    tick: Callable[[str], None],
) -> list[Live]:
    """Each strategy compiled and warmed; one that fails is recorded and the others go on."""
    lives = []
    for name in options.strategies:
        try:
            live = compile_strategy(name)
            lives.append(live)
            warm_pass(live, options.requests)
        except InferperfError as exc:
            records[name] = _failed(name, exc)
        tick(f"{name}: compiled and warmed")
    return lives


def _rounds(lives: list[Live], options: DynamicOptions, records: Records, tick: Callable[[str], None]) -> None:
    for r in range(options.rounds):
        if options.requests == 1:
            round_per_input(lives, r, records)
            tick(f"round {r + 1} of {options.rounds}")
            continue
        for k in range(len(lives)):
            live = lives[(k + r) % len(lives)]  # rotating order: drift hits every strategy alike
            if live.plan.name in records:
                continue
            try:
                measured_pass(live, options.requests)
            except InferperfError as exc:
                records[live.plan.name] = _failed(live.plan.name, exc)
            tick(f"round {r + 1}: {live.plan.name}")


def round_per_input(lives: list[Live], r: int, records: Records) -> None:
    """One request at a time: every input runs on each strategy back to back, in rotating order.

    The machine drifts over minutes; strategies measured seconds apart on the same input see
    the same machine, so their per-round ratios are tight where whole passes would not be.
    """
    active = [lv for lv in lives if lv.plan.name not in records]
    n = len(active[0].feeds) if active else 0
    lat = {lv.plan.name: [math.nan] * n for lv in active}
    for i in range(n):
        for k in range(len(active)):
            live = active[(k + i + r) % len(active)]
            if live.plan.name in records:
                continue
            try:
                lat[live.plan.name][i] = _driver(live, 1).run_one(i)
            except InferperfError as exc:
                records[live.plan.name] = _failed(live.plan.name, exc)
    for live in active:
        if live.plan.name in records:
            continue
        values = lat[live.plan.name]
        total_s = sum(values) / 1e3
        live.rounds.append({"latency_ms": values, "wall_s": total_s, "throughput": n / total_s})


def run_dynamic(
    backend: Backend,
    info: ModelInfo,
    items: Sequence[StreamItem],
    groups: Sequence[ResolvedGroup],
    config: RuntimeConfig,
    options: DynamicOptions,
    int_range: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> Strategies:
    """Plan, compile, warm and measure every strategy; a strategy that fails is recorded and the others go on."""
    inputs = stream_inputs(info, items, options.seed, int_range)
    records: Records = {}
    steps = len(options.strategies) * (1 + options.rounds)
    done = 0

    def tick(text: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(1.0, done / steps), text)

    lives: list[Live] = []
    try:
        lives = _prepare(
            lambda name: compile_plan(backend, info, plan_strategy(name, items, groups), inputs, config),
            options,
            records,
            tick,
        )
        _rounds(lives, options, records, tick)
        for live in lives:
            if live.plan.name not in records:
                records[live.plan.name] = summarize_strategy(items, live)
    finally:
        for live in lives:
            close_live(live)
    ordered = [records[n] for n in options.strategies if n in records]
    return {"strategies": ordered, "comparison": compare_strategies(ordered)}
