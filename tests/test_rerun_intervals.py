"""Intervals that hold across reruns (issue 21): run-level replication in compare, bench's default runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inferperf.report.compare import UNREPLICATED, compare_docs


def _doc(rng: np.random.Generator, level: float, runs: int, noise: float = 0.05) -> dict[str, Any]:
    """A bench document whose runs differ by a run offset of sd ``noise`` around ``level`` ms."""
    per = [level * float(np.exp(rng.normal(0, noise))) for _ in range(runs)]
    lat = np.concatenate([rng.normal(m, 0.01 * m, 200) for m in per])
    done = np.cumsum(lat / 1e3)
    run = {
        "backend": "openvino",
        "scenario": "latency",
        "count": int(lat.size),
        "items": int(lat.size),
        "batch": 1,
        "samples": {"latency_ms": lat.tolist(), "completed_at_s": done.tolist()},
        "repeats": [{"median_ms": m, "p90_ms": m * 1.01, "p99_ms": m * 1.03, "throughput_fps": 1e3 / m} for m in per]
        if runs > 1
        else None,
    }
    return {"kind": "bench", "runs": [run]}


def test_aa_compare_of_replicated_results_stays_quiet() -> None:
    rng = np.random.default_rng(3)
    alarms = rows = 0
    for _ in range(60):
        out = compare_docs(_doc(rng, 5.0, 5), _doc(rng, 5.0, 5))
        rows += len(out["rows"])
        alarms += sum(r["verdict"] != "no significant difference" for r in out["rows"])
        assert all(r["covers"] == "runs" for r in out["rows"]) and "warning" not in out
    assert alarms / rows <= 0.05


def test_replicated_compare_sees_a_real_change_and_measures_the_noise() -> None:
    rng = np.random.default_rng(4)
    out = compare_docs(_doc(rng, 5.0, 8, noise=0.02), _doc(rng, 4.0, 8, noise=0.02))
    verdicts = {r["metric"]: r["verdict"] for r in out["rows"]}
    assert verdicts["latency_median_ms"] == "faster" and verdicts["throughput_fps"] == "faster"
    assert out["rerun_noise"] == pytest.approx(0.02, rel=0.6)
    assert out["threshold"] >= 0.02


def test_single_run_compare_says_it_cannot_separate_change_from_noise() -> None:
    rng = np.random.default_rng(5)
    out = compare_docs(_doc(rng, 5.0, 1), _doc(rng, 5.2, 1))
    assert out["warning"] == UNREPLICATED
    assert all(r["covers"] == "samples" for r in out["rows"])


def test_default_bench_makes_independent_runs_and_a_fixed_budget_one(tiny_onnx: Path) -> None:
    from inferperf import api
    from inferperf.config import AUTO_RUNS, MAX_RUNS, RunLimits

    quick = RunLimits(min_time_s=0.5, max_time_s=2.0, warmup_s=0.05, min_count=20)
    auto = api.bench(tiny_onnx, mode="latency", limits=quick, shape="1,16").runs[0]
    assert AUTO_RUNS <= len(auto.repeats or []) <= MAX_RUNS
    median = auto.latency_ms["median"]
    assert median["covers"] == "runs" and median["dominant"] in ("between runs", "within runs")
    assert median["ci95"][0] <= median["value"] <= median["ci95"][1]
    fixed = api.bench(tiny_onnx, mode="latency", limits=RunLimits(time_s=0.2, warmup_s=0.0), shape="1,16").runs[0]
    assert fixed.repeats is None and fixed.latency_ms["median"]["covers"] == "samples"
    assert fixed.throughput_fps["covers"] == "samples"
