"""Statistics on raw samples: pure functions on numbers, nothing else.

Two interval methods are combined for quantiles, and the wider one wins:

* ``order-statistic``: the distribution-free binomial interval for a quantile
  (exact coverage >= the level for i.i.d. samples, no shape assumed).
* ``batch-quantiles``: the run is cut into contiguous blocks, the quantile is
  taken per block, and a Student-t interval is built from the between-block
  spread. Per-request latencies are correlated (drift, stalls, frequency
  changes), so an i.i.d. interval over thousands of samples is far too
  narrow; the block spread carries that correlation into the interval.

Throughput uses batch means over equal time windows for the same reason.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypedDict, TypeGuard

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

CONFIDENCE = 0.95
DEFAULT_BLOCKS = 10
MIN_BLOCKS = 5
QUANTILE_METHOD = "max(order-statistic binomial, batch-quantiles t over 10 blocks)"
THROUGHPUT_METHOD = "batch means over equal time windows, Student-t"


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    value: float
    low: float
    high: float
    method: str
    # What the interval's replication spans: "samples", "runs", "interleaved rounds", "invocations"...
    covers: str = ""

    @property
    def half_width(self) -> float:
        """The larger distance from the estimate to an end of the interval."""
        return max(self.value - self.low, self.high - self.value)

    def relative_half_width(self) -> float:
        """Half-width as a fraction of the estimate (inf when the estimate is 0)."""
        return self.half_width / abs(self.value) if self.value else math.inf

    def contains(self, x: float) -> bool:
        """True when x lies inside the closed interval."""
        return self.low <= x <= self.high

    def to_dict(self) -> dict[str, object]:
        """JSON form: ``{"value": v, "ci95": [lo, hi]}``, and ``covers`` where it is named."""
        out: dict[str, object] = {"value": self.value, "ci95": [self.low, self.high]}
        if self.covers:
            out["covers"] = self.covers
        return out


def _as_array(samples: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(samples, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("no samples")
    return arr


def quantile(samples: ArrayLike, q: float) -> float:
    """The q-quantile with linear interpolation (Hyndman-Fan type 7, numpy's default)."""
    return float(np.quantile(_as_array(samples), q))


def order_statistic_ci(samples: ArrayLike, q: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free interval for the q-quantile from order statistics.

    The number of samples below the true quantile is Binomial(n, q); the ranks
    that bracket it with the wanted probability give the interval's ends. With
    too few samples for a tail quantile the sample extreme is the end only while
    it still bounds the quantile with a probability of at least 1 - alpha
    (one side; a median of 5 runs: the maximum exceeds it 97% of the time);
    below that the end is unbounded (inf, null in JSON) rather than an extreme
    that claims a coverage it does not have (a p99 of 24 requests: the maximum
    exceeds the true p99 only 21% of the time).
    """
    x = np.sort(_as_array(samples))
    n = x.size
    alpha = 1.0 - confidence
    lo_rank = int(sps.binom.ppf(alpha / 2, n, q))  # 1-based rank of the lower end
    hi_rank = int(sps.binom.ppf(1 - alpha / 2, n, q)) + 1
    low, high = float(x[max(lo_rank, 1) - 1]), float(x[min(hi_rank, n) - 1])
    if lo_rank < 1 and 1 - (1 - q) ** n < 1 - alpha:  # P(min < the quantile) too low
        low = -math.inf
    if hi_rank > n and 1 - q**n < 1 - alpha:  # P(max > the quantile) too low
        high = math.inf
    return low, high


def _block_count(n: int, q: float, blocks: int) -> int:
    # Each block must hold enough samples to see its quantile: about 2/(1-q) for an
    # upper tail (200 for p99), 10 at least. Fewer blocks than MIN_BLOCKS gives a
    # useless t quantile, so the method is then skipped.
    tail = min(q, 1.0 - q)
    per_block = max(10, math.ceil(2.0 / tail)) if tail > 0 else n
    return min(blocks, n // per_block)


def batch_quantile_ci(
    samples: ArrayLike, q: float, confidence: float = CONFIDENCE, blocks: int = DEFAULT_BLOCKS
) -> tuple[float, float] | None:
    """Interval for the q-quantile from the spread of per-block quantiles.

    Returns None when the samples are too few to form at least MIN_BLOCKS blocks.
    """
    x = _as_array(samples)
    b = _block_count(x.size, q, blocks)
    if b < MIN_BLOCKS:
        return None
    per_block = np.array([np.quantile(part, q) for part in np.array_split(x, b)])
    center = float(np.quantile(x, q))
    se = float(np.std(per_block, ddof=1)) / math.sqrt(b)
    t = float(sps.t.ppf(0.5 + confidence / 2, b - 1))
    return center - t * se, center + t * se


def quantile_ci(samples: ArrayLike, q: float, confidence: float = CONFIDENCE) -> Interval:
    """The q-quantile with the wider of the order-statistic and batch-quantile intervals."""
    value = quantile(samples, q)
    lo, hi = order_statistic_ci(samples, q, confidence)
    batch = batch_quantile_ci(samples, q, confidence)
    if batch is not None:
        lo, hi = min(lo, batch[0]), max(hi, batch[1])
    return Interval(value, min(lo, value), max(hi, value), QUANTILE_METHOD)


def throughput_ci(
    completion_times: ArrayLike,
    start: float,
    end: float,
    items_per_completion: float = 1.0,
    confidence: float = CONFIDENCE,
    windows: int = DEFAULT_BLOCKS,
) -> Interval:
    """Items per second over [start, end] with a batch-means interval.

    The span is cut into ``windows`` equal windows; each window's rate is one
    batch mean, and the t-interval over them widens with real rate drift.
    """
    duration = end - start
    if duration <= 0:
        raise ValueError("empty measurement span")
    t = np.asarray(completion_times, dtype=np.float64)
    value = t.size * items_per_completion / duration
    counts, _ = np.histogram(t, bins=windows, range=(start, end))
    if windows < 2 or t.size < 2 * windows:
        return Interval(value, 0.0, math.inf, THROUGHPUT_METHOD)
    rates = counts * items_per_completion / (duration / windows)
    se = float(np.std(rates, ddof=1)) / math.sqrt(windows)
    tq = float(sps.t.ppf(0.5 + confidence / 2, windows - 1))
    return Interval(value, max(0.0, value - tq * se), value + tq * se, THROUGHPUT_METHOD)


@dataclass(frozen=True)
class LatencySummary:
    """Latency statistics of one run, all in the samples' unit (milliseconds here)."""

    median: Interval
    p90: Interval
    p95: Interval
    p99: Interval
    mean: float
    min: float
    max: float
    std: float
    count: int

    def to_dict(self, covers: str | None = None) -> dict[str, object]:
        """JSON form used in result documents; ``covers`` names what every percentile's interval spans."""

        def one(interval: Interval) -> dict[str, object]:
            return (interval if covers is None else replace(interval, covers=covers)).to_dict()

        return {
            "median": one(self.median),
            "p90": one(self.p90),
            "p95": one(self.p95),
            "p99": one(self.p99),
            "mean": self.mean,
            "min": self.min,
            "max": self.max,
            "std": self.std,
            "ci_method": QUANTILE_METHOD,
        }


def summarize(samples: Sequence[float] | NDArray[np.float64]) -> LatencySummary:
    """Percentiles with intervals, and the plain moments, of raw latency samples."""
    x = _as_array(samples)
    return LatencySummary(
        median=quantile_ci(x, 0.5),
        p90=quantile_ci(x, 0.90),
        p95=quantile_ci(x, 0.95),
        p99=quantile_ci(x, 0.99),
        mean=float(np.mean(x)),
        min=float(np.min(x)),
        max=float(np.max(x)),
        std=float(np.std(x, ddof=1)) if x.size > 1 else 0.0,
        count=int(x.size),
    )


def ratio_of_medians_ci(
    numerator: ArrayLike, denominator: ArrayLike, confidence: float = CONFIDENCE, resamples: int = 4000, seed: int = 0
) -> Interval:
    """median(numerator) / median(denominator) with a percentile-bootstrap interval.

    Used for speedups between two independent groups of runs (cold vs warm
    cache). With few runs per group the interval is wide, as it should be.
    """
    a, b = _as_array(numerator), _as_array(denominator)
    value = float(np.median(a) / np.median(b))
    rng = np.random.default_rng(seed)
    ra = np.median(rng.choice(a, (resamples, a.size)), axis=1)
    rb = np.median(rng.choice(b, (resamples, b.size)), axis=1)
    boots = ra / rb
    alpha = 1 - confidence
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return Interval(value, min(float(lo), value), max(float(hi), value), "percentile bootstrap of the ratio of medians")


def median_ci_small(samples: ArrayLike, confidence: float = CONFIDENCE) -> Interval:
    """The median with its order-statistic interval, for a handful of samples (runs, not requests)."""
    x = _as_array(samples)
    lo, hi = order_statistic_ci(x, 0.5, confidence)
    value = float(np.median(x))
    return Interval(value, min(lo, value), max(hi, value), "order-statistic binomial")


def between_repeats_half_width(values: ArrayLike, confidence: float = CONFIDENCE) -> float:
    """Student-t half-width of the mean of per-repeat estimates (0 for a single repeat).

    Repeats are separate compiles spread over time, so their spread carries the
    machine's slow shifts (minutes-long frequency or neighbour changes) that no
    interval built inside one run can see.
    """
    x = _as_array(values)
    if x.size < 2:
        return 0.0
    t = float(sps.t.ppf(0.5 + confidence / 2, x.size - 1))
    return t * float(np.std(x, ddof=1)) / math.sqrt(x.size)


class Estimate(TypedDict):
    """An estimate with its 95% interval, as every result document writes one (``ci95``: [low, high])."""

    value: float
    ci95: list[float]


def is_estimate(value: object) -> TypeGuard[Estimate]:
    """Whether a value read from a document is an estimate (an object with its ``value``)."""
    return isinstance(value, dict) and "value" in value


class RunsEstimate(Estimate):
    """A figure over R independent runs, with the two levels of its interval (``runs_interval``)."""

    covers: str
    runs: int
    within_half: float
    between_half: float
    dominant: str


def runs_interval(
    value: float, per_run: ArrayLike, per_run_half_widths: ArrayLike, confidence: float = CONFIDENCE
) -> RunsEstimate:
    """A two-level interval for an estimate from R independent runs (fresh compile each).

    ``between``: the t-interval half-width over the R per-run estimates. Each run's estimate carries its
    own sampling noise plus that run's offset (thread placement, memory layout, frequency, neighbours),
    so this one covers both levels, and it is the one a rerun is judged by. ``within``: the half-width
    the samples alone would give the mean of R runs (root-sum-square of each run's half-width over R).
    The reported half-width is the larger, centred on ``value``; ``dominant`` says which level set it.
    """
    x, w = _as_array(per_run), _as_array(per_run_half_widths)
    between = between_repeats_half_width(x, confidence)
    # A short run of a slow model may hold too few time windows for an interval of its own (half-width inf);
    # its estimate still enters ``between``, which carries its sampling noise too. The floor uses the rest.
    w = w[np.isfinite(w)]
    within = float(np.sqrt(np.sum(w**2)) / w.size) if w.size else (math.inf if x.size < 2 else 0.0)
    half = max(between, within)
    return {
        "value": value,
        "ci95": [value - half, value + half],
        "covers": "runs" if x.size > 1 else "samples",
        "runs": int(x.size),
        "within_half": within,
        "between_half": between,
        "dominant": "between runs" if between > within else "within runs",
    }


def welch_ratio_ci(a: ArrayLike, b: ArrayLike, confidence: float = CONFIDENCE) -> Interval:
    """Ratio of geometric means b/a of two independent sets of per-run figures, Welch t-interval on logs."""
    la, lb = np.log(_as_array(a)), np.log(_as_array(b))
    va, vb = float(np.var(la, ddof=1)) / la.size, float(np.var(lb, ddof=1)) / lb.size
    diff = float(lb.mean() - la.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(math.exp(diff), math.exp(diff), math.exp(diff), "Welch t on log per-run figures")
    dof = (va + vb) ** 2 / (va**2 / (la.size - 1) + vb**2 / (lb.size - 1))
    t = float(sps.t.ppf(0.5 + confidence / 2, dof))
    return Interval(math.exp(diff), math.exp(diff - t * se), math.exp(diff + t * se), "Welch t on log per-run figures")


def paired_ratio_ci(numerator: ArrayLike, denominator: ArrayLike, confidence: float = CONFIDENCE) -> Interval:
    """Geometric mean of per-round ratios a_i / b_i with a t-interval on their logs.

    For interleaved A/B rounds: each round's pair shares the machine's state, so
    the ratio cancels drift that would swamp a comparison of pooled values.
    """
    a, b = _as_array(numerator), _as_array(denominator)
    logs = np.log(a / b)
    center = float(np.mean(logs))
    # The rounds alternate A and B inside one invocation: drift common to both cancels in each ratio,
    # which is what makes a within-invocation ratio hold on a rerun better than either side's level.
    covers = "interleaved rounds"
    if logs.size < 2:
        return Interval(math.exp(center), 0.0, math.inf, "paired log-ratio t-interval", covers)
    half = float(sps.t.ppf(0.5 + confidence / 2, logs.size - 1)) * float(np.std(logs, ddof=1)) / math.sqrt(logs.size)
    low, high = math.exp(center - half), math.exp(center + half)
    return Interval(math.exp(center), low, high, "paired log-ratio t-interval", covers)


def _blocks(n: int, count: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, min(count, n) + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def block_bootstrap(
    samples: ArrayLike,
    statistic: Callable[[NDArray[np.float64]], float],
    resamples: int = 1000,
    blocks: int = 40,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Bootstrap replicates of ``statistic`` resampling contiguous blocks, not single samples.

    Per-request latencies are correlated in time; resampling whole blocks keeps that
    correlation, so the spread of the replicates is not falsely narrow.
    """
    x = _as_array(samples)
    spans = _blocks(x.size, blocks)
    rng = np.random.default_rng(seed)
    out = np.empty(resamples)
    for i in range(resamples):
        picks = rng.integers(0, len(spans), len(spans))
        out[i] = statistic(np.concatenate([x[spans[j][0] : spans[j][1]] for j in picks]))
    return out


def bootstrap_ratio_ci(
    baseline: ArrayLike,
    candidate: ArrayLike,
    statistic: Callable[[NDArray[np.float64]], float],
    confidence: float = CONFIDENCE,
    resamples: int = 1000,
    seed: int = 0,
) -> Interval:
    """statistic(candidate) / statistic(baseline) with a percentile interval from block-bootstrap replicates."""
    a, b = _as_array(baseline), _as_array(candidate)
    value = statistic(b) / statistic(a)
    ra = block_bootstrap(a, statistic, resamples, seed=seed)
    rb = block_bootstrap(b, statistic, resamples, seed=seed + 1)
    ratios = rb / ra
    lo, hi = np.quantile(ratios, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return Interval(float(value), float(lo), float(hi), "block bootstrap of the ratio (percentile interval)")


def window_rates(completed_at_s: ArrayLike, windows: int = 40) -> NDArray[np.float64]:
    """Completions per second in equal time windows over a run (the units a throughput bootstrap resamples)."""
    t = np.sort(_as_array(completed_at_s))
    if t.size < 2:
        return np.asarray([float(t.size)])
    edges = np.linspace(float(t[0]), float(t[-1]), windows + 1)
    counts, _ = np.histogram(t, edges)
    return counts / max(float(edges[1] - edges[0]), 1e-12)


OWN_RERUNS = "this configuration's recorded reruns"
MACHINE_RERUNS = "this machine's recorded reruns, any model or configuration, pooled as relative spread"


class NoiseRecord(TypedDict):
    """The machine's noise between invocations as a result records it (``RerunNoise.to_dict``)."""

    sd_log: float
    relative_sd: float
    dof: int
    invocations: int
    source: str


@dataclass(frozen=True)
class RerunNoise:
    """How much one invocation's figure varies around the configuration's level on this machine.

    Pooled over groups of earlier invocations (separate processes, minutes or days apart), each group
    around its own mean: ``sd_log`` is the standard deviation of the log figure, so it reads as a
    relative spread. It carries everything that moves between invocations and stays fixed inside one
    (frequency and neighbour drift, process-level memory layout), which no interval from one
    invocation's samples or runs can see.
    """

    sd_log: float
    dof: int
    invocations: int
    source: str = OWN_RERUNS

    def t(self, confidence: float = CONFIDENCE) -> float:
        """Student-t quantile at this estimate's degrees of freedom (few invocations: a wider interval)."""
        return float(sps.t.ppf(0.5 + confidence / 2, self.dof))

    def to_dict(self) -> NoiseRecord:
        """JSON form."""
        return {
            "sd_log": self.sd_log,
            "relative_sd": math.expm1(self.sd_log),
            "dof": self.dof,
            "invocations": self.invocations,
            "source": self.source,
        }


MIN_INVOCATIONS = 3  # fewer leave one or no degree of freedom: an interval with t(1) = 12.7 says nothing


def rerun_noise(groups: Sequence[Sequence[float]]) -> RerunNoise | None:
    """Pooled between-invocation spread of positive figures, each group around its own mean; None when too few.

    Groups are separate configurations (or the two sides of a comparison): their means differ by the
    change being measured, which must not count as noise.
    """
    squares, dof, count = 0.0, 0, 0
    for group in groups:
        x = np.log(np.asarray([v for v in group if v and v > 0], dtype=float))
        if x.size >= 2:
            squares += float(np.sum((x - x.mean()) ** 2))
            dof += x.size - 1
            count += int(x.size)
    if count < MIN_INVOCATIONS or dof < MIN_INVOCATIONS - 1:
        return None
    return RerunNoise(math.sqrt(squares / dof), dof, count)


def drift_estimate(own: Sequence[Sequence[float]], machine: Sequence[Sequence[float]]) -> RerunNoise | None:
    """The between-invocation spread to judge with: from the configurations' own reruns (``own``: one group
    per configuration) where they hold enough, else from every group recorded on this machine (relative
    drift is a property of the machine more than of the model: shared hosts, frequency, neighbours).
    None when neither has MIN_INVOCATIONS: the drift is unknown."""
    noise = rerun_noise(own)
    if noise is not None:
        return noise
    pooled = rerun_noise([*machine, *own])
    return None if pooled is None else replace(pooled, source=MACHINE_RERUNS)


def invocation_interval(value: float, noise: RerunNoise, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Where the configuration's level lies, from one invocation's ``value``: value x exp(+-t sd)."""
    half = noise.t(confidence) * noise.sd_log
    return value * math.exp(-half), value * math.exp(half)


def invocation_ratio_ci(a: float, b: float, noise: RerunNoise, confidence: float = CONFIDENCE) -> Interval:
    """b / a for two single invocations, each off its level by the machine's rerun noise: exp(+-t sd sqrt 2)."""
    diff = math.log(b / a)
    half = noise.t(confidence) * noise.sd_log * math.sqrt(2)
    return Interval(math.exp(diff), math.exp(diff - half), math.exp(diff + half), "t on log, rerun noise")


def clopper_pearson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact binomial interval for a proportion."""
    alpha = 1 - confidence
    lo = 0.0 if successes == 0 else float(sps.beta.ppf(alpha / 2, successes, n - successes + 1))
    hi = 1.0 if successes == n else float(sps.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return lo, hi
