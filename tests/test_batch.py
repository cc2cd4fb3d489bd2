"""Items per inference come from the tensors fed: --shape and batch are reconciled once, and every run
counts inferences x the fed batch dim (issue: throughput counted a batch that never ran)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.backends import get_backend
from inferperf.cli import app
from inferperf.commands.tune import _batch_knob
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.errors import InputSpecError, InvariantError
from inferperf.measure.runner import items_completed, run_scenario
from inferperf.measure.trials import TrialInputs
from inferperf.model import fed_batch, load_model_info, parse_shape_spec, reconcile_batch, resolve_shapes
from inferperf.results import load_result

LIMITS = RunLimits(iterations=30, warmup_s=0)


def test_given_shape_conflicting_with_batch_is_refused_naming_both(image_onnx: Path) -> None:
    info = load_model_info(image_onnx)
    with pytest.raises(InputSpecError, match=r"fixes its batch dim to 1, but batch 8"):
        resolve_shapes(info, parse_shape_spec("1,3,8,16"), 8)
    assert resolve_shapes(info, parse_shape_spec("8,3,8,16"), 8) == {"x": (8, 3, 8, 16)}
    assert resolve_shapes(info, parse_shape_spec("8,3,8,16"), 1) == {"x": (8, 3, 8, 16)}


def test_fed_batch_and_reconcile(image_onnx: Path, two_input_onnx: Path) -> None:
    info = load_model_info(image_onnx)
    assert fed_batch(info, {"x": (8, 3, 8, 16)}) == 8
    assert reconcile_batch(info, {"x": (8, 3, 8, 16)}, 1) == 8  # the default batch defers to the shape
    assert reconcile_batch(info, {"x": (8, 3, 8, 16)}, 8) == 8
    with pytest.raises(InputSpecError, match=r"batch 4 conflicts with the inputs' batch dim 8"):
        reconcile_batch(info, {"x": (8, 3, 8, 16)}, 4)
    two = load_model_info(two_input_onnx)
    with pytest.raises(InputSpecError, match="disagree on the batch dim"):
        fed_batch(two, {"ids": (2, 4), "mask": (3, 4)})


def test_items_completed_over_a_rotation() -> None:
    assert items_completed([8], 5) == 40
    assert items_completed([1, 2, 4], 7) == 2 * 7 + 1  # two whole passes and one more input


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
@pytest.mark.parametrize(("shape", "batch", "items"), [("1,3,8,16", 1, 1), ("8,3,8,16", 1, 8), (None, 8, 8)])
def test_items_per_inference_follow_the_fed_shape(
    image_onnx: Path, backend: str, shape: str | None, batch: int, items: int
) -> None:
    if shape is None:  # the batch fills the free dim; H and W still need fixing
        shape, batch = "x[8,3,8,16]", 8
    result = api.bench(
        image_onnx, backends=[backend], mode="latency", shape=shape, limits=LIMITS, config=RuntimeConfig(batch=batch)
    )
    run = result.runs[0]
    assert run.batch == items and run.fed_shapes == {"x": [items, 3, 8, 16]}
    assert run.items == run.count * items
    assert run.throughput_fps["value"] == pytest.approx(run.count * items / run.duration_s, rel=1e-6)
    assert result.model["shapes"] == {"x": [items, 3, 8, 16]}


def test_bench_cli_refuses_shape_and_batch_that_disagree(image_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["bench", str(image_onnx), "--shape", "1,3,8,16", "--batch", "8", "--iterations", "5", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "batch dim to 1" in result.output and "batch 8" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_bench_cli_counts_a_batch_given_in_the_shape(image_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = [
        "bench",
        str(image_onnx),
        "--shape",
        "8,3,8,16",
        "--mode",
        "latency",
        "--iterations",
        "20",
        "--warmup",
        "0",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = load_result(out).runs[0]
    assert run.batch == 8 and run.items == 8 * run.count and run.config["batch"] == 8


def test_a_config_batch_the_tensors_do_not_hold_breaks_the_invariant(image_onnx: Path) -> None:
    info = load_model_info(image_onnx)
    sets = [{"x": np.zeros((1, 3, 8, 16), np.float32)}]
    with pytest.raises(InvariantError, match="config says batch 8 but the fed tensors hold batch 1"):
        run_scenario(
            get_backend("onnxruntime"), info, {"x": (1, 3, 8, 16)}, sets, RuntimeConfig(batch=8), "latency", LIMITS
        )


def test_tuner_does_not_search_batch_over_a_given_shape(image_onnx: Path) -> None:
    from inferperf.optimize.tuner import Target

    info = load_model_info(image_onnx)
    plugin = get_backend("openvino")
    knobs = tuple(plugin.search_space("throughput", 2, []))
    assert any(k.name == "batch" for k in knobs)
    targets = [Target("openvino", "model", info, knobs)]
    spec: TrialInputs = {"shape": "1,3,8,16", "inputs": None}
    kept, reason = _batch_knob(targets, [("model", info)], RuntimeConfig(), spec)
    assert all(k.name != "batch" for k in kept[0].knobs)
    assert reason is not None and "fixes the batch dim to 1" in reason
    kept, reason = _batch_knob(targets, [("model", info)], RuntimeConfig(), {"shape": None, "inputs": None})
    assert reason is None and any(k.name == "batch" for k in kept[0].knobs)


def test_tune_with_a_shape_and_a_conflicting_batch_is_refused_before_any_trial(image_onnx: Path) -> None:
    with pytest.raises(InputSpecError, match="batch 4"):
        api.tune(image_onnx, shape="1,3,8,16", config=RuntimeConfig(batch=4))


def test_inputs_larger_than_memory_are_refused_before_allocating(image_onnx: Path, tmp_path: Path) -> None:
    """1,3,60000,60000 float32 is 40 GiB per set: exit 2 naming the sizes, not a MemoryError, no JSON."""
    import tracemalloc

    info = load_model_info(image_onnx)
    tracemalloc.start()
    with pytest.raises(InputSpecError, match=r"need .* GiB but only .* of memory is available"):
        api.bench(image_onnx, shape="1,3,60000,60000", limits=LIMITS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2**30  # refused from the sizes, nothing of that size was allocated
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["bench", str(image_onnx), "--shape", "1,3,60000,60000", "--json", str(out)])
    assert result.exit_code == 2, result.output
    assert "GiB" in result.output and "x[1, 3, 60000, 60000] float32" in result.output
    assert "Traceback" not in result.output and not out.exists()
    assert info.inputs[0].dtype == "float32"


def test_harness_figures_from_latencies_and_wall_time() -> None:
    import numpy as np

    from inferperf.measure.runner import harness_figures

    # 1000 inferences of 0.5 ms in 0.55 s with one request: 91% busy, 50 us lost each.
    h = harness_figures(np.full(1000, 0.5), 0.55, 1)
    assert h["busy_fraction"] == pytest.approx(0.5 / 0.55)
    assert h["gap_us_per_inference"] == pytest.approx(50.0)
    assert "50 us per inference" in h["note"] and "understated by up to 9%" in h["note"]
    # 4 requests in flight, each busy the whole second: no note.
    quiet = harness_figures(np.full(400, 10.0), 1.0, 4)
    assert quiet["busy_fraction"] == pytest.approx(1.0) and "note" not in quiet
    assert harness_figures(np.array([]), 1.0, 1)["busy_fraction"] is None


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_every_run_reports_its_busy_fraction(tiny_onnx: Path, backend: str) -> None:
    from inferperf import api
    from inferperf.config import RunLimits

    result = api.bench(tiny_onnx, backends=[backend], limits=RunLimits(time_s=0.3, warmup_s=0.05), shape="1,16")
    for run in result.runs:
        h = run.harness
        assert h is not None and 0.0 < h["busy_fraction"] <= 1.05
        assert h["requests"] == run.effective["requests_in_flight"]
