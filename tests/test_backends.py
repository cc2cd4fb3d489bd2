"""Both backends on tiny ONNX models: compile, infer, read back, run requests, measure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inferperf.backends import backend_names, get_backend
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.errors import BackendError, BackendUnavailableError, ConfigError
from inferperf.inputs import build_input_sets
from inferperf.measure.runner import Collector, run_scenario
from inferperf.model import load_model_info

BACKENDS = ["openvino", "onnxruntime"]
FAST = RunLimits(iterations=30, warmup_s=0.0)


def _compile(name: str, path: Path, config: RuntimeConfig | None = None, batch: int = 1):  # type: ignore[no-untyped-def]
    info = load_model_info(path)
    shapes = {"x": (batch, 16)}
    backend = get_backend(name)
    return backend.compile(info, shapes, config or RuntimeConfig(backend=name)), build_input_sets(info, shapes)


def test_registry() -> None:
    assert set(BACKENDS) <= set(backend_names())
    assert get_backend("ov").name == "openvino"
    assert get_backend("ORT").name == "onnxruntime"
    with pytest.raises(BackendUnavailableError, match="unknown backend 'tensorflow'"):
        get_backend("tensorflow")


# Tolerance by the precision the runtime reports it executed: bf16 keeps 8 bits of mantissa.
_RTOL = {"f32": 1e-4, "bf16": 3e-2, "f16": 5e-3}


def _reported_precision(engine) -> str:  # type: ignore[no-untyped-def]
    return str(engine.effective().get("INFERENCE_PRECISION_HINT") or "f32")


def _expected(path: Path, x: np.ndarray) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    return np.maximum(x @ init["w"] + init["b"], 0)


@pytest.mark.precision
@pytest.mark.parametrize("name", BACKENDS)
def test_backends_agree_on_outputs(name: str, tiny_onnx: Path) -> None:
    """At the runtime's default precision, judged by the precision it reports (bf16 on AMX/AVX-512 BF16 CPUs)."""
    engine, sets = _compile(name, tiny_onnx, batch=3)
    out = engine.infer(sets[0])["y"]
    expected = _expected(tiny_onnx, sets[0]["x"])
    rtol = _RTOL[_reported_precision(engine)]
    assert out.shape == (3, 8)
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol * float(np.abs(expected).max()))
    assert set(engine.phases_ms) >= {"read", "compile"}


@pytest.mark.precision
def test_openvino_pinned_f32_matches_numpy_at_full_precision(tiny_onnx: Path) -> None:
    """``inference_precision=f32`` holds whatever the CPU's default: tight tolerance, reported f32."""
    pytest.importorskip("openvino")
    engine, sets = _compile("openvino", tiny_onnx, RuntimeConfig(backend="openvino", inference_precision="f32"), 3)
    assert _reported_precision(engine) == "f32"
    np.testing.assert_allclose(engine.infer(sets[0])["y"], _expected(tiny_onnx, sets[0]["x"]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", BACKENDS)
def test_run_requests_records_every_completion(name: str, tiny_onnx: Path) -> None:
    engine, sets = _compile(name, tiny_onnx)
    col = Collector(RunLimits(iterations=50, warmup_s=0))
    engine.run_requests(sets, 2, col)
    completions = len(col.latencies_ms)  # a count of requests, not a time
    assert 50 <= completions <= 52  # in-flight requests drain after the stop
    assert all(v > 0 for v in col.latencies_ms)
    assert col.stop_reason == "iterations budget"


def test_openvino_reads_back_effective_config(tiny_onnx: Path) -> None:
    config = RuntimeConfig(hint="throughput", streams=2, threads=2, inference_precision="f32")
    engine, _ = _compile("openvino", tiny_onnx, config)
    eff = engine.effective()
    assert eff["NUM_STREAMS"] == 2
    assert eff["PERFORMANCE_HINT"] == "THROUGHPUT"
    assert eff["INFERENCE_PRECISION_HINT"] == "f32"
    assert eff["INFERENCE_NUM_THREADS"] in (0, 1, 2)
    # One request queued behind each of the runtime's optimum (a Python host restarts a request late).
    assert engine.default_requests() == 2 * eff["OPTIMAL_NUMBER_OF_INFER_REQUESTS"]


def test_onnxruntime_reports_session_options(tiny_onnx: Path) -> None:
    config = RuntimeConfig(
        backend="onnxruntime", threads=1, inter_op_threads=2, execution_mode="parallel", graph_optimization="basic"
    )
    engine, _ = _compile("onnxruntime", tiny_onnx, config)
    eff = engine.effective()
    assert eff["intra_op_num_threads"] == 1
    assert eff["execution_mode"] == "ORT_PARALLEL"
    # ORT silently falls back to sequential with one inter-op thread: read-back shows what ran.
    engine, _ = _compile("onnxruntime", tiny_onnx, config.with_(inter_op_threads=1))
    assert engine.effective()["execution_mode"] == "ORT_SEQUENTIAL"
    assert eff["graph_optimization_level"] == "ORT_ENABLE_BASIC"
    assert eff["providers"] == ["CPUExecutionProvider"]


def test_openvino_loads_ir_and_reshapes_static(ir_model: Path, static_onnx: Path) -> None:
    engine, sets = _compile("openvino", ir_model, batch=2)
    assert engine.infer(sets[0])["y"].shape == (2, 8)
    engine, sets = _compile("openvino", static_onnx, batch=4)  # static [1,16] reshaped to [4,16]
    assert engine.infer(sets[0])["y"].shape == (4, 8)


def test_onnxruntime_refuses_ir_and_static_reshape(ir_model: Path, static_onnx: Path) -> None:
    with pytest.raises(ConfigError, match="cannot load a openvino_ir"):
        _compile("onnxruntime", ir_model)
    with pytest.raises(BackendError, match="cannot reshape input 'x' dim 0 from 1 to 4"):
        _compile("onnxruntime", static_onnx, RuntimeConfig(backend="onnxruntime"), batch=4)


def test_external_data_runs_on_both(external_data_onnx: Path) -> None:
    info = load_model_info(external_data_onnx)
    for name in BACKENDS:
        engine = get_backend(name).compile(info, {"x": (1, 16)}, RuntimeConfig(backend=name))
        assert engine.infer({"x": np.ones((1, 16), np.float32)})["y"].shape == (1, 64)
        if name == "onnxruntime":
            assert engine.phases_ms["read"] is None  # merged into session creation, said so


def test_openvino_bad_property_is_runtime_error(tiny_onnx: Path) -> None:
    with pytest.raises(BackendError, match="cannot compile"):
        _compile("openvino", tiny_onnx, RuntimeConfig(properties={"NOT_A_PROPERTY": "1"}))


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("scenario", ["latency", "throughput"])
def test_run_scenario(name: str, scenario: str, tiny_onnx: Path) -> None:
    info = load_model_info(tiny_onnx)
    shapes = {"x": (2, 16)}
    result = run_scenario(
        get_backend(name),
        info,
        shapes,
        build_input_sets(info, shapes),
        RuntimeConfig(backend=name, batch=2),
        scenario,
        FAST,  # type: ignore[arg-type]
    )
    assert result.count >= 30
    assert len(result.samples["latency_ms"]) == result.count
    assert result.batch == 2
    lat = result.latency_ms
    assert lat["min"] <= lat["median"]["value"] <= lat["p99"]["value"] <= lat["max"]
    lo, hi = lat["median"]["ci95"]
    assert lo <= lat["median"]["value"] <= hi
    assert result.throughput_fps["value"] == pytest.approx(result.count * 2 / result.duration_s)
    assert result.phases_ms["first_inference"] > 0
    expected_requests = 1 if scenario == "latency" else result.effective["requests_in_flight"]
    assert result.effective["requests_in_flight"] == expected_requests >= 1
    assert result.converged is None and result.stop_reason == "iterations budget"


def test_adaptive_stop_converges_on_constant_data() -> None:
    col = Collector(RunLimits(min_time_s=0.0, min_count=20, check_every_s=0.0, max_time_s=30))
    for i in range(200):
        col.record(float(i), 5.0)
    assert col.should_stop()
    assert col.converged is True and col.stop_reason == "converged"


def test_adaptive_stop_caps_and_reports_not_converged() -> None:
    col = Collector(RunLimits(min_time_s=0.0, min_count=20, check_every_s=0.0, max_time_s=0.05))
    rng = np.random.default_rng(0)
    for v in rng.exponential(5.0, 200):
        col.record(0.0, float(v))
    assert not col.should_stop()  # wide interval, under the cap
    import time

    time.sleep(0.06)
    assert col.should_stop()
    assert col.converged is False and "not converged" in col.stop_reason


def test_merge_repeats_widens_intervals_with_between_repeat_spread(tiny_onnx: Path) -> None:
    from dataclasses import replace

    from inferperf.measure.runner import merge_repeats

    info = load_model_info(tiny_onnx)
    shapes = {"x": (1, 16)}
    base = run_scenario(get_backend("onnxruntime"), info, shapes, build_input_sets(info, shapes),
                        RuntimeConfig(backend="onnxruntime"), "latency", FAST)  # fmt: skip
    # A second repeat on a machine that got 50% slower: same shape of samples, shifted.
    slow = replace(base, samples={**base.samples, "latency_ms": [v * 1.5 for v in base.samples["latency_ms"]]},
                   latency_ms={**base.latency_ms, "median": {"value": base.latency_ms["median"]["value"] * 1.5,
                                                              "ci95": [0, 0]}})  # fmt: skip
    merged = merge_repeats([base, slow])
    assert merged.count == 2 * base.count and merged.repeats is not None and len(merged.repeats) == 2
    lo, hi = merged.latency_ms["median"]["ci95"]
    assert lo <= base.latency_ms["median"]["value"] and hi >= base.latency_ms["median"]["value"] * 1.5
    assert "2 runs" in merged.latency_ms["ci_method"] and merged.latency_ms["median"]["covers"] == "runs"
    assert merged.duration_s == pytest.approx(2 * base.duration_s)
    assert merge_repeats([base]) is base


def test_bench_repeats_cli(tiny_onnx: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from inferperf.cli import app
    from inferperf.results import load_result

    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["bench", str(tiny_onnx), "--repeats", "3", "--iterations", "20", "--warmup",
                                      "0", "--mode", "latency", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = load_result(out).runs[0]
    assert run.repeats is not None and len(run.repeats) == 3
    assert run.count == sum(r["count"] for r in run.repeats)
    assert run.stop_reason.startswith("3 repeats")


def test_precision_note_names_each_backend_and_the_difference() -> None:
    from inferperf.measure.crosscheck import _precision_note

    assert _precision_note({"openvino": "f32", "onnxruntime": "f32"}, None, 1e-6) is None
    note = _precision_note({"openvino": "bf16", "onnxruntime": "f32"}, None, 0.0175)
    assert note is not None
    assert "openvino ran bf16 by default on this CPU" in note and "0.0175" in note and "--infer-precision f32" in note


def test_optimize_headline_lists_executed_precisions() -> None:
    from inferperf.commands.optimize_flow import executed_precisions

    docs = [
        {"runs": [{"backend": "openvino", "effective": {"executed_precision": "bf16"}}]},
        {"runs": [{"backend": "onnxruntime", "effective": {"executed_precision": "f32"}}]},
        {"kind": "doctor"},
    ]
    assert executed_precisions(docs) == {"onnxruntime": ["f32"], "openvino": ["bf16"]}
