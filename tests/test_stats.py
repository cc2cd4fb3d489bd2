"""Statistics on fixed data against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferperf import stats


def test_quantile_matches_type7_interpolation() -> None:
    x = [1.0, 2.0, 3.0, 4.0]
    assert stats.quantile(x, 0.5) == 2.5
    assert stats.quantile(x, 0.9) == pytest.approx(3.7)
    assert stats.quantile(list(range(1, 101)), 0.99) == pytest.approx(99.01)


def test_order_statistic_ci_median_n100_known_ranks() -> None:
    # For n=100, q=0.5 the 95% distribution-free interval is (x(40), x(61)) in 1-based ranks
    # (binom.ppf(0.025, 100, .5) = 40, binom.ppf(0.975, 100, .5) + 1 = 61).
    x = np.arange(1, 101, dtype=float)
    lo, hi = stats.order_statistic_ci(x, 0.5)
    assert (lo, hi) == (40.0, 61.0)


def test_order_statistic_ci_unsorted_input_and_tail() -> None:
    rng = np.random.default_rng(1)
    x = rng.permutation(np.arange(1, 1001, dtype=float))
    lo, hi = stats.order_statistic_ci(x, 0.99)
    # binom(1000, .99): ppf(0.025) = 983, ppf(0.975) = 996 -> ranks 983 and 997
    assert (lo, hi) == (983.0, 997.0)


def test_order_statistic_ci_too_few_samples_for_a_tail_is_unbounded() -> None:
    # the max of 5 samples exceeds the true p99 with probability 1 - 0.99**5 = 5%: no upper bound
    lo, hi = stats.order_statistic_ci([1.0, 2.0, 3.0, 4.0, 5.0], 0.99)
    assert hi == math.inf and lo <= 5.0
    # the max of 5 exceeds the true median 97% of the time: it stays the end (as a handful of runs need)
    assert stats.order_statistic_ci([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == (1.0, 5.0)


@pytest.mark.parametrize("n", [24, 64, 400])
def test_the_p99_interval_covers_the_true_p99_at_every_sample_size(n: int) -> None:
    """2000 draws of n log-normal latencies: the interval holds the true p99 at least 95% of the time (the
    sample maximum as its end held it 21% of the time at n = 24)."""
    rng = np.random.default_rng(3)
    truth = math.exp(2.3263478740408408 * 0.3)
    draws = rng.lognormal(0.0, 0.3, size=(2000, n))
    covered = np.mean([stats.quantile_ci(d, 0.99).contains(truth) for d in draws])
    assert covered >= 0.94, covered


def test_batch_quantile_ci_needs_enough_blocks() -> None:
    assert stats.batch_quantile_ci(np.ones(30), 0.5) is None  # 30 // 10 = 3 blocks < 5
    assert stats.batch_quantile_ci(np.ones(300), 0.99) is None  # p99 wants 200 per block
    assert stats.batch_quantile_ci(np.arange(100.0), 0.5) is not None


def test_batch_quantile_ci_known_value() -> None:
    # Ten blocks of 10 samples: block b holds b*10 + 0..9, so block medians are b*10 + 4.5.
    x = np.arange(100, dtype=float)
    lo, hi = stats.batch_quantile_ci(x, 0.5)  # type: ignore[misc]
    medians = np.arange(10) * 10 + 4.5
    se = np.std(medians, ddof=1) / math.sqrt(10)
    t = 2.2621571627409915  # t(0.975, 9)
    assert lo == pytest.approx(49.5 - t * se)
    assert hi == pytest.approx(49.5 + t * se)


def test_quantile_ci_widens_with_drift() -> None:
    # Same marginal distribution, but one sample is drifting: the block method must widen the interval.
    rng = np.random.default_rng(0)
    iid = rng.normal(10.0, 1.0, 5000)
    drift = np.sort(iid)  # extreme serial correlation
    iid_ci = stats.quantile_ci(iid, 0.5)
    drift_ci = stats.quantile_ci(drift, 0.5)
    assert iid_ci.value == pytest.approx(drift_ci.value)
    assert drift_ci.half_width > 10 * iid_ci.half_width


def test_quantile_ci_covers_true_median_most_of_the_time() -> None:
    rng = np.random.default_rng(42)
    true_median = math.log(2)  # exponential(1)
    hits = sum(stats.quantile_ci(rng.exponential(1.0, 400), 0.5).contains(true_median) for _ in range(200))
    assert hits >= 185  # >= 92.5% for a nominal 95% (conservative) interval


def test_throughput_ci_constant_rate_is_tight() -> None:
    t = (np.arange(1000) + 0.5) * 0.01  # one completion every 10 ms over 10 s, off the window edges
    iv = stats.throughput_ci(t, 0.0, 10.0)
    assert iv.value == pytest.approx(100.0)
    assert iv.low == pytest.approx(100.0)
    assert iv.high == pytest.approx(100.0)


def test_throughput_ci_batch_and_varying_rate() -> None:
    # 5 s at 200/s then 5 s at 100/s, batch 4: mean 600 items/s, windows disagree.
    t = np.concatenate([np.arange(1, 1001) * 0.005, 5.0 + np.arange(1, 501) * 0.01])
    iv = stats.throughput_ci(t, 0.0, 10.0, items_per_completion=4)
    assert iv.value == pytest.approx(600.0)
    assert iv.low < 600.0 < iv.high
    assert iv.high - iv.low > 100


def test_throughput_ci_rejects_empty_span() -> None:
    with pytest.raises(ValueError):
        stats.throughput_ci([1.0], 2.0, 2.0)


def test_summarize_fixed_data() -> None:
    x = np.arange(1, 1001, dtype=float)
    s = stats.summarize(x)
    assert s.count == 1000
    assert s.min == 1.0 and s.max == 1000.0
    assert s.mean == pytest.approx(500.5)
    assert s.median.value == pytest.approx(500.5)
    assert s.p90.value == pytest.approx(900.1)
    assert s.p99.value == pytest.approx(990.01)
    assert s.std == pytest.approx(np.std(x, ddof=1))
    assert s.median.low <= s.median.value <= s.median.high
    d = s.to_dict()
    assert d["median"]["ci95"] == [s.median.low, s.median.high]


def test_relative_half_width_and_empty_samples() -> None:
    iv = stats.Interval(10.0, 9.0, 10.5, "m")
    assert iv.half_width == 1.0
    assert iv.relative_half_width() == pytest.approx(0.1)
    with pytest.raises(ValueError):
        stats.summarize([])


def test_runs_interval_covers_the_rerun_level_where_one_run_does_not() -> None:
    """By simulation, no timing: runs differ by a run offset (sd 4%) on top of sampling noise (sd 10%).

    One run's own interval is honest about its samples and misses the level a rerun lands on most of the
    time; the two-level interval over 5 runs covers it at about its nominal rate.
    """
    from inferperf.stats import quantile_ci, runs_interval

    rng = np.random.default_rng(7)
    truth = float(np.exp(0.04**2 / 2))  # mean over runs of each run's median (lognormal offsets)
    single_hits = merged_hits = 0
    trials = 200
    for _ in range(trials):
        runs = [np.exp(rng.normal(0, 0.04)) * rng.lognormal(0, 0.1, 300) for _ in range(5)]
        cis = [quantile_ci(r, 0.5) for r in runs]
        single_hits += cis[0].contains(truth)
        medians = [c.value for c in cis]
        merged = runs_interval(float(np.mean(medians)), medians, [c.half_width for c in cis])
        merged_hits += merged["ci95"][0] <= truth <= merged["ci95"][1]
        assert merged["covers"] == "runs" and merged["runs"] == 5
    assert single_hits / trials < 0.6
    assert merged_hits / trials >= 0.88


def test_runs_interval_names_the_dominant_level() -> None:
    from inferperf.stats import runs_interval

    quiet = runs_interval(10.0, [10.0, 10.01, 9.99], [0.5, 0.5, 0.5])
    assert quiet["dominant"] == "within runs" and quiet["ci95"][1] - 10.0 == pytest.approx(0.5 * 3**0.5 / 3)
    noisy = runs_interval(10.0, [9.0, 10.0, 11.0], [0.1, 0.1, 0.1])
    assert noisy["dominant"] == "between runs" and noisy["between_half"] > noisy["within_half"]
    assert runs_interval(5.0, [5.0], [0.2])["covers"] == "samples"
