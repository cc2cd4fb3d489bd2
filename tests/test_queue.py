"""The ideal queue: simulated FCFS queues against closed-form results, and the overhead ratio's interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferperf.errors import ConfigError
from inferperf.measure.queue import (
    ideal_p99,
    ideal_peak,
    overhead_ratio,
    poisson_arrivals,
    sojourn_times,
)
from inferperf.report.scenario_console import ideal_queue_line


def _naive(arrivals: np.ndarray, service: np.ndarray, servers: int) -> np.ndarray:
    """The definition, slowly: each arrival takes the server that frees first."""
    free = [0.0] * servers
    out = []
    for a, s in zip(arrivals, service, strict=True):
        k = int(np.argmin(free))
        done = max(free[k], a) + s
        free[k] = done
        out.append(done - a)
    return np.asarray(out)


@pytest.mark.parametrize("servers", [1, 2, 5])
def test_every_path_matches_the_definition(servers: int) -> None:
    rng = np.random.default_rng(3)
    arrivals = poisson_arrivals(0.8 * servers, 400, rng, replications=3)
    service = rng.exponential(1.0, arrivals.shape)
    expected = np.stack([_naive(a, s, servers) for a, s in zip(arrivals, service, strict=True)])
    np.testing.assert_allclose(sojourn_times(arrivals, service, servers), expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(sojourn_times(arrivals[1], service[1], servers), expected[1], rtol=1e-12, atol=1e-9)


def test_arrivals_are_poisson_and_share_their_pattern_across_rates() -> None:
    a = poisson_arrivals(50.0, 100_000, np.random.default_rng(0))
    assert np.all(np.diff(a) >= 0) and a[-1] == pytest.approx(2000.0, rel=0.01)
    b = poisson_arrivals(100.0, 100_000, np.random.default_rng(0))
    np.testing.assert_allclose(b, a / 2)
    with pytest.raises(ConfigError):
        poisson_arrivals(0.0, 10, np.random.default_rng(0))


def test_mm1_sojourn_p99_matches_the_exponential_law() -> None:
    lam, mu, n = 0.5, 1.0, 400_000
    rng = np.random.default_rng(1)
    sojourn = sojourn_times(poisson_arrivals(lam, n, rng), rng.exponential(1 / mu, n), 1)
    # M/M/1 sojourn is exponential with rate mu - lambda: p99 = ln(100) / (mu - lambda)
    assert np.percentile(sojourn, 99) == pytest.approx(math.log(100) / (mu - lam), rel=0.04)


def _erlang_c_wait(servers: int, lam: float, mu: float) -> float:
    a, rho = lam / mu, lam / (servers * mu)
    top = a**servers / math.factorial(servers) / (1 - rho)
    prob_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return prob_wait / (servers * mu - lam)


def test_mmc_mean_wait_matches_erlang_c() -> None:
    servers, lam, mu, n = 4, 3.0, 1.0, 300_000
    rng = np.random.default_rng(2)
    service = rng.exponential(1 / mu, n)
    wait = sojourn_times(poisson_arrivals(lam, n, rng), service, servers) - service
    assert wait.mean() == pytest.approx(_erlang_c_wait(servers, lam, mu), rel=0.05)


def test_md1_mean_wait_matches_pollaczek_khinchine() -> None:
    lam, s, n = 0.7, 1.0, 300_000
    rng = np.random.default_rng(4)
    wait = sojourn_times(poisson_arrivals(lam, n, rng), np.full(n, s), 1) - s
    rho = lam * s
    assert wait.mean() == pytest.approx(rho * s / (2 * (1 - rho)), rel=0.04)


def test_ideal_p99_of_an_mm1_queue() -> None:
    service_ms = np.random.default_rng(5).exponential(10.0, 20_000)  # mu = 100 / s
    ideal = ideal_p99(service_ms, rate_qps=50.0, servers=1, queries=20_000, replications=40)
    assert ideal["stable"] and ideal["utilisation"] == pytest.approx(0.5, rel=0.02)
    analytic = math.log(100) / (100 - 50) * 1e3
    assert ideal["ideal_ms"] == pytest.approx(analytic, rel=0.06)
    lo, hi = ideal["ci95"]
    assert lo < ideal["ideal_ms"] < hi and len(ideal["replicates_ms"]) == 40
    assert ideal["model"] == "M/G/1" and ideal["capacity_qps"] == pytest.approx(100, rel=0.02)


def test_an_overloaded_queue_is_flagged_not_given_a_number() -> None:
    ideal = ideal_p99([10.0, 12.0], rate_qps=400.0, servers=4, queries=1000)
    assert ideal["utilisation"] >= 1 and not ideal["stable"] and ideal["verdict"] == "unstable"
    assert ideal["ideal_ms"] is None and ideal["ci95"] is None
    over = overhead_ratio([30.0, 40.0, 50.0], ideal)
    assert over["ratio"] is None and over["measured_ms"] > 0
    assert "grows without bound" in ideal_queue_line({**ideal, "overhead": over})
    with pytest.raises(ConfigError):
        ideal_p99([], rate_qps=1.0, servers=1, queries=10)


def _one_run(service_ms: np.ndarray, rate: float, servers: int, queries: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    service_s = rng.choice(service_ms, queries) / 1e3
    return sojourn_times(poisson_arrivals(rate, queries, rng), service_s, servers) * 1e3


def test_overhead_ratio_is_one_for_the_ideal_queue_and_sees_inflation() -> None:
    service_ms = np.random.default_rng(6).gamma(4.0, 2.5, 3000)  # mean 10 ms
    rate, servers, queries = 280.0, 4, 20_000  # utilisation 0.7
    ideal = ideal_p99(service_ms, rate, servers, queries, replications=60, seed=1)
    measured = _one_run(service_ms, rate, servers, queries, seed=99)
    same = overhead_ratio(measured, ideal, seed=2)
    lo, hi = same["ci95"]
    assert lo < 1 < hi and same["ratio"] == pytest.approx(1.0, abs=0.1)
    assert same["verdict"] == "no significant overhead"
    slow = overhead_ratio(measured * 1.3, ideal, seed=2)
    assert slow["ci95"][0] > 1 and slow["ratio"] == pytest.approx(1.3 * same["ratio"])
    assert slow["verdict"] == "SUT overhead"
    line = ideal_queue_line({**ideal, "overhead": slow})
    assert "the ideal M/G/4 queue's" in line and "probed before the run): x1." in line


def test_ideal_peak_is_where_the_p99_crosses_the_bound() -> None:
    service = [1.0]  # M/D/1: 1 ms service, capacity 1000 / s
    queries = 2000
    peak = ideal_peak(service, 1, bound_ms=10.0, queries_at=lambda _: queries, replications=20)
    assert peak["capacity_qps"] == pytest.approx(1000.0)
    assert peak["peak_qps"] is not None and 500 < peak["peak_qps"] < 1000
    at = ideal_p99(service, peak["peak_qps"], 1, queries, replications=20)
    above = ideal_p99(service, peak["bracket"][1], 1, queries, replications=20)
    assert at["ideal_ms"] <= 10.0 < (above["ideal_ms"] or math.inf)
    never = ideal_peak([20.0], 2, bound_ms=10.0, queries_at=lambda _: 100, replications=5)
    assert never["peak_qps"] is None
