"""Tuner: constraints, ranking, a crashing trial, the search loop and the config-file round trip."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferperf.cli import app
from inferperf.config import Knob, RuntimeConfig, TuneOptions, load_config_file, parse_megabytes, parse_milliseconds
from inferperf.errors import ConfigError
from inferperf.measure.trials import TrialInputs
from inferperf.model import load_model_info
from inferperf.optimize.tuner import (
    Target,
    TrialRecord,
    TrialRunner,
    Tuner,
    build_config,
    explain,
    grid,
    pareto,
    ranked,
    space_size,
)
from inferperf.optimize.tuner_core import verdict

CRASHING = [sys.executable, str(Path(__file__).with_name("crashing_worker.py"))]
INPUTS: TrialInputs = {"shape": None, "inputs": None, "int_range": None, "input_values": None, "seed": 0}


def _rec(
    n: int, fps: float, p99: float, mb: float = 100.0, params: dict | None = None, target: str = "ov:m"
) -> TrialRecord:
    rec = TrialRecord(n, 0, target, params if params is not None else {"batch": n}, {}, "ok", 1.0)
    rec.throughput = {"value": fps, "ci95": [fps * 0.9, fps * 1.1]}
    rec.latency = {
        "median": {"value": p99 / 2, "ci95": [p99 / 2, p99 / 2]},
        "p99": {"value": p99, "ci95": [p99 * 0.9, p99 * 1.2]},
    }
    rec.peak_mb = mb
    rec.feasible = True
    return rec


def test_knob_applies_fields_and_properties() -> None:
    cfg = Knob("property:CPU_DENORMALS_OPTIMIZATION", (None, "YES")).apply(RuntimeConfig(), "YES")
    assert cfg.properties == {"CPU_DENORMALS_OPTIMIZATION": "YES"}
    assert Knob("property:CPU_DENORMALS_OPTIMIZATION", (None, "YES")).apply(cfg, None).properties == {}
    assert Knob("streams", (1, 2)).apply(RuntimeConfig(), 2).streams == 2
    with pytest.raises(ConfigError, match="neither a runtime setting"):
        Knob("bogus", (1,))


def test_budget_parsers() -> None:
    assert parse_milliseconds("30ms") == 30.0 and parse_milliseconds("0.5s") == 500.0
    assert parse_megabytes("2GB") == 2048.0
    with pytest.raises(ConfigError, match="--p99-max"):
        parse_milliseconds("fast", "--p99-max")


def test_constraint_uses_upper_bound_of_p99() -> None:
    runner = TrialRunner(RuntimeConfig(), TuneOptions(p99_max_ms=10.0, memory_max_mb=150.0), "throughput", INPUTS)
    inside = _rec(0, 100, p99=8.0)  # upper bound 9.6 ms: meets 10 ms
    edge = _rec(1, 200, p99=9.0)  # point estimate meets 10 ms, upper bound 10.8 ms does not
    heavy = _rec(2, 300, p99=1.0, mb=400.0)
    for rec in (inside, edge, heavy):
        runner._judge(rec)
    assert inside.feasible and not edge.feasible and not heavy.feasible
    assert "p99 upper bound" in edge.violations[0] and "peak memory" in heavy.violations[0]
    assert runner.constraints(edge)[0] > 0 and runner.constraints(inside)[0] <= 0
    # infeasible configurations rank after every feasible one, however fast
    assert [r.number for r in ranked([inside, edge, heavy], "throughput")] == [0, 2, 1]


def test_pareto_front_and_explanation() -> None:
    a = _rec(0, 100, 5.0, params={"batch": 1, "streams": 1})
    b = _rec(1, 200, 9.0, params={"batch": 8, "streams": 1})
    c = _rec(2, 150, 9.5, params={"batch": 8, "streams": 2})  # slower and worse p99 than b: dominated
    assert pareto([a, b, c]) == [0, 1]
    rows = explain(b, [a, b, c], "throughput")
    by_knob = {r["knob"]: r for r in rows}
    assert by_knob["batch"]["ratio"] == pytest.approx(2.0) and by_knob["batch"]["neighbour"] == 1
    assert by_knob["streams"]["ratio"] == pytest.approx(200 / 150)
    assert rows[0]["knob"] == "batch"  # the knob that mattered most comes first


def test_verdict_significant_and_tied() -> None:
    rounds = [[100, 102, 101, 99, 100], [80, 81, 79, 80, 82], [99, 103, 100, 98, 101]]
    v = verdict(0, rounds, ["A", "B", "C"], higher_better=True)
    assert v["tied_with"] == ["C"]
    assert next(r for r in v["against"] if r["against"] == "B")["significant"]


def test_grid_enumerates_the_space(tiny_onnx: Path) -> None:
    info = load_model_info(tiny_onnx)
    t = Target("openvino", "m", info, (Knob("streams", (None, 1, 2)), Knob("batch", (1, 4))))
    assert space_size([t]) == 6 and len(grid([t])) == 6
    assert build_config(RuntimeConfig(), t, {"streams": 2, "batch": 4}).with_(backend="openvino").batch == 4


@pytest.mark.slow
def test_crashing_trials_are_recorded_and_search_goes_on(tiny_onnx: Path) -> None:
    info = load_model_info(tiny_onnx)
    knobs = (Knob("batch", (1, 4)), Knob("streams", (1, 2)))
    target = Target("openvino", "m", info, knobs)
    reference = Target("openvino", "m", info, (), name="reference")
    options = TuneOptions(budget_s=12, trial_s=0.2, finalists=2, trial_timeout_s=60, round_s=0.3)
    tuner = Tuner([target], reference, TrialRunner(RuntimeConfig(), options, "throughput", INPUTS, CRASHING))
    result = tuner.run()
    crashed = [r for r in result.records if r.params.get("batch") == 4]
    assert crashed and all(r.status == "failed" and "crashed" in (r.error or "") for r in crashed)
    assert any(r.status == "ok" and r.params.get("batch") == 1 for r in result.records)
    assert result.recommendation is not None  # the reference (params {}) may win on a model this small
    assert result.recommendation["params"].get("batch", 1) == 1
    assert result.final is not None and "verdict" in result.final


@pytest.mark.slow
def test_tune_cli_writes_a_config_that_bench_reads_back(tiny_onnx: Path, tmp_path: Path) -> None:
    cfg, doc_path = tmp_path / "tuned.json", tmp_path / "tune.json"
    runner = CliRunner()
    args = [
        "tune",
        str(tiny_onnx),
        "--budget",
        "10s",
        "--trial-time",
        "0.2s",
        "--round-time",
        "0.3s",
        "--finalists",
        "2",
        "--save-config",
        str(cfg),
        "--json",
        str(doc_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(doc_path.read_text())
    assert doc["kind"] == "tune" and doc["trials"] and doc["recommendation"]["verified"]
    runtime, _ = load_config_file(cfg)
    assert RuntimeConfig.from_dict(runtime).to_dict() == doc["recommendation"]["runtime"]
    bench_json = tmp_path / "bench.json"
    result = runner.invoke(
        app,
        [
            "bench",
            "--config",
            str(cfg),
            "--mode",
            "throughput",
            "--iterations",
            "30",
            "--warmup",
            "0",
            "--json",
            str(bench_json),
        ],
    )
    assert result.exit_code == 0, result.output
    run = json.loads(bench_json.read_text())["runs"][0]
    assert Path(json.loads(bench_json.read_text())["model"]["path"]) == tiny_onnx
    for key in ("streams", "requests", "batch", "pinning", "properties"):
        assert run["config"][key] == doc["recommendation"]["runtime"][key]


def test_tune_rejects_bad_budget(tiny_onnx: Path) -> None:
    result = CliRunner().invoke(app, ["tune", str(tiny_onnx), "--p99-max", "soon"])
    assert result.exit_code == 2 and "--p99-max" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("front", [False, True])
def test_search_loop_with_a_stub_runner(tiny_onnx: Path, front: bool) -> None:
    """The optuna wiring (TPE with constraints, NSGA-II for a front) without measuring anything."""
    from inferperf.optimize.tuner import Search

    info = load_model_info(tiny_onnx)
    target = Target("openvino", "m", info, (Knob("batch", (1, 2, 4, 8)), Knob("streams", (1, 2))))
    options = TuneOptions(p99_max_ms=10.0, front=front, seed=1)
    runner = TrialRunner(RuntimeConfig(), options, "throughput", INPUTS)

    def fake_run(t: Target, params: dict, rung: int, seconds: float) -> TrialRecord:
        # throughput grows with batch, p99 too: batch 8 breaks the 10 ms budget
        rec = _rec(
            len(runner.records), 100.0 * params["batch"] * params["streams"], 1.2 * params["batch"], params=params
        )
        runner._judge(rec)
        runner.records.append(rec)
        return rec

    runner.run = fake_run  # type: ignore[method-assign]
    search = Search(runner, [target], options)
    while not search.exhausted():
        search.step()
    assert len(search.seen) == 8  # every configuration once, duplicates answered from the record
    best = ranked(runner.records, "throughput")[0]
    assert best.params == {"batch": 4, "streams": 2} and best.feasible
    assert all(not r.feasible for r in runner.records if r.params["batch"] == 8)


@pytest.mark.slow
def test_tune_over_a_shape_stream(two_input_onnx: Path, tmp_path: Path) -> None:
    """--shapes: every trial runs one engine with open dims over the same seeded stream; batch is not searched."""
    doc_path, cfg = tmp_path / "tune.json", tmp_path / "tuned.json"
    args = ["tune", str(two_input_onnx), "--budget", "10s", "--trial-time", "0.2s", "--round-time", "0.3s"]
    args += ["--finalists", "2", "--shapes", "ids[1,4];ids[1,8..64]*2", "--stream", "30", "--int-range", "0,49"]
    args += ["--save-config", str(cfg), "--json", str(doc_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(doc_path.read_text())
    assert doc["shapes"]["count"] == 30 and sum(doc["shapes"]["samples_per_group"].values()) == 30
    ok = [t for t in doc["trials"] if t["status"] == "ok"]
    assert ok and all("batch" not in t["params"] for t in doc["trials"])
    assert any("batch knob" in s for s in doc["skipped_targets"])
    assert json.loads(cfg.read_text())["shapes"] == "ids[1,4];ids[1,8..64]*2"
    assert "--shapes 'ids[1,4];ids[1,8..64]*2'" in " ".join(result.output.split())  # rich wraps long lines


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--shapes", "ids[1,4]", "--shape", "ids[1,4],mask[1,4]"], "leave out --shape"),
        (["--shapes", "ids[1,40..4]"], "low end above its high end"),
        (["--shapes", "ids[1,4]", "--data", "x.txt"], "use --shapes data"),
        (["--shapes", "nope[1,4]"], "nope"),
    ],
)
def test_tune_shapes_bad_input_is_one_line(extra: list[str], fragment: str, two_input_onnx: Path) -> None:
    result = CliRunner().invoke(app, ["tune", str(two_input_onnx), "--budget", "5s", *extra])
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_a_trial_over_a_shape_stream_measures_one_whole_pass(two_input_onnx: Path) -> None:
    from inferperf.measure.trials import trial_task

    info = load_model_info(two_input_onnx)
    inputs = {**INPUTS, "int_range": [0, 49], "shapes": {"text": "ids[1,4];ids[1,8..64]", "stream": 9}}
    job = {
        "backend": "onnxruntime",
        "model_info": info.to_dict(),
        "config": RuntimeConfig(backend="onnxruntime").to_dict(),
        "scenario": "latency",
        "time_s": 0.01,  # far shorter than a pass: the pass wins
        "warmup_s": 0.01,
        "inputs": inputs,
    }
    run = trial_task(job)["run"]
    assert run["count"] >= 9 and run["stop_reason"] == "iterations budget"
