"""Intervals that hold across reruns (issue 21): run-level replication in compare, bench's default runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inferperf.report.compare import DRIFT_UNKNOWN, NO_INVOCATIONS, UNREPLICATED, compare_docs
from inferperf.results.documents import parse
from inferperf.results.schema import SCHEMA


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
    return {"schema": SCHEMA, "kind": "bench", "runs": [run]}


def test_separate_runs_without_known_drift_are_inconclusive_never_an_alarm() -> None:
    """Runs inside one invocation cannot see the drift between invocations (issue 34: 5 of 16 A/A rows
    called on a drifting EPYC): without it every row is inconclusive, with the smallest effect it could see."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        out = compare_docs(parse(_doc(rng, 5.0, 5)), parse(_doc(rng, 5.0, 5)))
        assert {r["verdict"] for r in out["rows"]} == {DRIFT_UNKNOWN}
        assert all(r["covers"] == "runs" and r["min_detectable"] > 0 for r in out["rows"])
        assert out["warning"] == NO_INVOCATIONS


def test_replicated_compare_measures_the_noise_between_runs() -> None:
    rng = np.random.default_rng(4)
    out = compare_docs(parse(_doc(rng, 5.0, 8, noise=0.02)), parse(_doc(rng, 4.0, 8, noise=0.02)))
    ratios = {r["metric"]: r for r in out["rows"]}
    assert ratios["latency_median_ms"]["ci95"][1] < 1 and ratios["latency_median_ms"]["verdict"] == DRIFT_UNKNOWN
    assert out["rerun_noise"] == pytest.approx(0.02, rel=0.6)
    assert out["threshold"] >= 0.02


def test_single_run_compare_says_it_cannot_separate_change_from_noise() -> None:
    rng = np.random.default_rng(5)
    out = compare_docs(parse(_doc(rng, 5.0, 1)), parse(_doc(rng, 5.2, 1)))
    assert out["warning"] == UNREPLICATED
    assert all(r["covers"] == "samples" and r["verdict"] == DRIFT_UNKNOWN for r in out["rows"])


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


# --- the level above runs: invocations (separate processes, minutes apart), learned from the history

_ENV = {"cpu": {"model": "test cpu", "cores": 2}, "hostname": "h", "versions": {"openvino": "1"}}


def _invocation(rng: np.random.Generator, level: float, drift: float, k: int, config: str = "a") -> dict[str, Any]:
    """One bench invocation: an offset of sd ``drift`` shared by its 5 runs (1% apart), as a shared VM drifts."""
    here = level * float(np.exp(rng.normal(0, drift)))
    doc = _doc(rng, here, 5, noise=0.01)
    run = doc["runs"][0]
    per = [r["median_ms"] for r in run["repeats"]]
    m = float(np.mean(per))
    half = 2.8 * float(np.std(per, ddof=1)) / np.sqrt(len(per))
    run["config"] = {"hint": config}
    run["latency_ms"] = {q: {"value": m * f, "ci95": [m * f - half, m * f + half]} for q, f in _Q.items()}
    run["throughput_fps"] = {"value": 1e3 / m, "ci95": [1e3 / (m + half), 1e3 / (m - half)]}
    return {
        **doc,
        "schema": SCHEMA,
        "created": f"2026-01-01T00:{k:02d}:00",
        "model": {"sha256": "abc", "shapes": {}},
        "environment": _ENV,
    }


_Q = {"median": 1.0, "p90": 1.01, "p99": 1.03}


def test_rerun_noise_pools_groups_around_their_own_means() -> None:
    from inferperf.stats import rerun_noise

    rng = np.random.default_rng(7)
    a = np.exp(rng.normal(0, 0.05, 40)) * 5.0
    b = np.exp(rng.normal(0, 0.05, 40)) * 9.0  # another configuration: its level is no noise
    noise = rerun_noise([a.tolist(), b.tolist()])
    assert noise is not None and noise.dof == 78 and noise.sd_log == pytest.approx(0.05, rel=0.2)
    assert rerun_noise([[5.0, 5.1]]) is None  # one degree of freedom says nothing


def test_invocation_interval_covers_the_level_by_simulation() -> None:
    """Known between-invocation sd 6%: the interval from one invocation plus 5 earlier ones covers the level."""
    from inferperf.stats import invocation_interval, rerun_noise

    rng = np.random.default_rng(8)
    covered = 0
    trials = 2000
    for _ in range(trials):
        figures = 4.0 * np.exp(rng.normal(0, 0.06, 6))
        noise = rerun_noise([figures[:5].tolist()])
        assert noise is not None
        lo, hi = invocation_interval(float(figures[5]), noise)
        covered += lo <= 4.0 <= hi
    assert 0.93 <= covered / trials <= 0.98


def test_compare_with_recorded_reruns_covers_invocations_and_stays_quiet_on_aa(tmp_path: Path) -> None:
    """A/A between invocations that drift 8% apart: without the history the runs-level intervals alarm;
    with 8 reruns recorded, intervals cover invocations and the false alarms stay near 5%."""
    from inferperf.commands.compare import _noise
    from inferperf.results.history import History

    rng = np.random.default_rng(9)
    store = History(tmp_path / "h.sqlite")
    for k in range(8):
        store.record(_invocation(rng, 5.0, 0.08, k))
    rows = alarms = blind_alarms = 0
    for k in range(40):
        a, b = _invocation(rng, 5.0, 0.08, 20 + 2 * k), _invocation(rng, 5.0, 0.08, 21 + 2 * k)
        learned = compare_docs(parse(a), parse(b), noise=_noise(parse(a), parse(b), store.path))
        blind = compare_docs(parse(a), parse(b))
        assert {r["covers"] for r in learned["rows"]} == {"invocations"} and "warning" not in learned
        rows += len(learned["rows"])
        alarms += sum(r["verdict"] != "no significant difference" for r in learned["rows"])
        blind_alarms += sum(r["verdict"] not in ("no significant difference", DRIFT_UNKNOWN) for r in blind["rows"])
    assert alarms / rows <= 0.08
    assert blind_alarms == 0  # blind to the drift: inconclusive, never an alarm


def test_compare_with_recorded_reruns_still_sees_a_real_change(tmp_path: Path) -> None:
    from inferperf.commands.compare import _noise
    from inferperf.results.history import History

    rng = np.random.default_rng(10)
    store = History(tmp_path / "h.sqlite")
    for k in range(6):
        store.record(_invocation(rng, 5.0, 0.02, k, config="a"))
        store.record(_invocation(rng, 3.5, 0.02, 10 + k, config="b"))
    a, b = _invocation(rng, 5.0, 0.02, 30, config="a"), _invocation(rng, 3.5, 0.02, 31, config="b")
    noise = _noise(parse(a), parse(b), store.path)
    out = compare_docs(parse(a), parse(b), noise=noise)
    verdicts = {r["metric"]: r["verdict"] for r in out["rows"]}
    assert verdicts["latency_median_ms"] == "faster" and verdicts["throughput_fps"] == "faster"
    # Two configurations, 6 recorded invocations each (the files judged left out): 10 degrees of freedom.
    median = noise[("openvino", "latency", "latency_median_ms")]
    assert median.invocations == 12 and median.dof == 10 and median.sd_log < 0.05


def test_bench_intervals_widen_to_invocations_with_recorded_reruns(tmp_path: Path) -> None:
    from inferperf.measure.bench import widen_run
    from inferperf.results.schema import RunResult

    rng = np.random.default_rng(11)
    doc = _invocation(rng, 5.0, 0.0, 0)
    base = {"effective": {}, "phases_ms": {}, "duration_s": 1.0, "converged": True, "stop_reason": "runs"}
    run = RunResult.from_dict({**doc["runs"][0], **base})
    earlier = [{"latency_median_ms": v, "throughput_fps": 1e3 / v} for v in (4.6, 5.0, 5.5, 5.2)]
    wide = widen_run(run, earlier)
    med = wide.latency_ms["median"]
    assert med["covers"] == "invocations" and med["invocation_noise"]["invocations"] == 4
    assert med["ci95"][0] < run.latency_ms["median"]["ci95"][0] and med["ci95"][1] > run.latency_ms["median"]["ci95"][1]
    assert wide.latency_ms["p99"] == run.latency_ms["p99"]  # no recorded p99: left as it was
    assert wide.throughput_fps["covers"] == "invocations"
    assert widen_run(run, earlier[:2]).latency_ms["median"] == run.latency_ms["median"]  # too few to learn from


def test_a_run_too_short_for_its_own_interval_does_not_make_the_runs_interval_infinite() -> None:
    """ResNet-50 in 0.6 s runs: some runs hold too few time windows for a throughput interval (inf)."""
    from inferperf.stats import runs_interval

    level = runs_interval(40.0, [38.0, 41.0, 40.5, 39.0, 42.0], [2.0, float("inf"), 1.5, float("inf"), 2.5])
    assert math.isfinite(level["ci95"][1]) and level["ci95"][0] > 30.0
    assert level["within_half"] == pytest.approx(math.sqrt(2.0**2 + 1.5**2 + 2.5**2) / 3)
    assert runs_interval(40.0, [40.0], [float("inf")])["ci95"][1] == math.inf  # one run: nothing else to go by


def test_drift_learned_from_other_models_on_this_machine_judges_a_new_pair(tmp_path: Path) -> None:
    """Issue 34: a configuration with no reruns of its own borrows the machine's drift, pooled over every
    group recorded on it (other models and configs, each around its own mean), and says so."""
    from inferperf.commands.compare import _noise
    from inferperf.results.history import History
    from inferperf.stats import MACHINE_RERUNS

    rng = np.random.default_rng(11)
    store = History(tmp_path / "h.sqlite")
    for k in range(6):  # reruns of three other models on this machine: 8% drift
        for m, (sha, level) in enumerate((("m1", 2.0), ("m2", 9.0), ("m3", 4.0))):
            doc = _invocation(rng, level, 0.08, k + 10 * m)
            store.record({**doc, "model": {"sha256": sha, "shapes": {}}})
    alarms = rows = 0
    for k in range(30):  # A/A on a model never recorded
        a, b = _invocation(rng, 5.0, 0.08, 20 + 2 * k), _invocation(rng, 5.0, 0.08, 21 + 2 * k)
        noise = _noise(parse(a), parse(b), store.path)
        out = compare_docs(parse(a), parse(b), noise=noise)
        assert {r["covers"] for r in out["rows"]} == {"invocations"}
        assert all(v["source"] == MACHINE_RERUNS for v in out["invocation_noise"].values())
        rows += len(out["rows"])
        alarms += sum(r["verdict"] != "no significant difference" for r in out["rows"])
    assert alarms / rows <= 0.1  # nominal 5% per pair; the four metrics of a pair move together
    a, b = _invocation(rng, 5.0, 0.08, 90), _invocation(rng, 3.5, 0.08, 91, config="b")  # 30% faster
    verdicts = {
        r["metric"]: r["verdict"]
        for r in compare_docs(parse(a), parse(b), noise=_noise(parse(a), parse(b), store.path))["rows"]
    }
    assert verdicts["latency_median_ms"] == "faster"


def test_machine_reruns_group_by_configuration_and_count_an_invocation_once(tmp_path: Path) -> None:
    from inferperf.results.history import History

    rng = np.random.default_rng(12)
    store = History(tmp_path / "h.sqlite")
    first = _invocation(rng, 5.0, 0.05, 1)
    store.record(first)
    store.record(first)  # the same invocation recorded twice
    store.record(_invocation(rng, 5.0, 0.05, 2))
    store.record(_invocation(rng, 5.0, 0.05, 3, config="b"))  # alone in its group: says nothing
    groups = store.machine_reruns(first)
    assert len(groups) == 1 and len(groups[0]) == 2
