"""Per-layer profiling: aggregation, precision report, diagnosis, comparison, and the runtimes' counters."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from inferperf import api
from inferperf.backends import get_backend
from inferperf.backends.base import Backend
from inferperf.backends.layers import LayerInfo, LayerRun, categorize
from inferperf.cli import app
from inferperf.errors import ConfigError
from inferperf.measure.profile import compare_profiles, match_layers, reference_gap, summarize_run
from inferperf.optimize.findings import ModelFacts, diagnose

QUICK = {"seconds": 0.3, "warmup_s": 0.1, "reference_s": 0.0}


# --- fixtures: models built to be slow in one known way --------------------------------------------


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def ref_kernel_onnx(tmp_path: Path) -> Path:
    """CumSum then a 1x1 conv: OpenVINO's CPU plug-in runs CumSum on its reference kernel (ref_any_f32)."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((32, 32, 1, 1)).astype(np.float32), "w")
    axis = numpy_helper.from_array(np.array(1, np.int64), "axis")
    nodes = [
        helper.make_node("CumSum", ["x", "axis"], ["h"], name="cumsum"),
        helper.make_node("Conv", ["h", "w"], ["y"], name="conv"),
    ]
    graph = helper.make_graph(
        nodes,
        "ref_kernel",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 56, 56])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 56, 56])],
        [w, axis],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "cumsum.onnx")


@pytest.fixture
def half_quantized_onnx(tmp_path: Path) -> Path:
    """A QDQ model: a small 1x1 conv quantized to INT8, the largest conv (3x3, 4x wider) left in FP32."""
    rng = np.random.default_rng(0)
    c, big = 32, 128
    inits = [
        numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
        numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        numpy_helper.from_array(rng.integers(-100, 100, (c, c, 1, 1)).astype(np.int8), "w1q"),
        numpy_helper.from_array(np.array(0.01, np.float32), "ws"),
        numpy_helper.from_array(np.array(0, np.int8), "wz"),
        numpy_helper.from_array(rng.standard_normal((big, c, 3, 3)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w1q", "ws", "wz"], ["w1"]),
        helper.make_node("Conv", ["xd", "w1"], ["h"], name="small_int8_conv"),
        helper.make_node("Relu", ["h"], ["hr"]),
        helper.make_node("Conv", ["hr", "w2"], ["y"], pads=[1, 1, 1, 1], name="big_fp32_conv"),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 56, 56])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, big, 56, 56])],
        inits,
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "qdq.onnx")


# --- pure aggregation and diagnosis on hand-made runs ----------------------------------------------


def _layer(name: str, op: str, precision: str = "f32", slow: str | None = None) -> LayerInfo:
    return LayerInfo(name, op, f"k_{precision}", precision, "CPU", categorize(op), slow)


def _run(layers: list[LayerInfo], rows: list[list[float]], sizes: list[int], latency: list[float]) -> LayerRun:
    return LayerRun("fake", tuple(layers), rows, sizes, latency, "test clock", 10.0, {})


def test_summary_weights_blocks_and_shares_sum_to_one() -> None:
    layers = [_layer("a", "Convolution"), _layer("b", "Transpose")]
    # Two blocks: 1 inference at (3, 1), then 3 inferences averaging (1, 1): means (1.5, 1.0).
    summary = summarize_run(_run(layers, [[3.0, 1.0], [1.0, 1.0]], [1, 3], [4.0, 2.1, 2.1, 2.1]))
    by_name = {layer["name"]: layer for layer in summary["layers"]}
    assert by_name["a"]["mean_ms"] == pytest.approx(1.5)
    assert by_name["b"]["mean_ms"] == pytest.approx(1.0)
    assert by_name["a"]["median_ms"] is None  # blocks of several inferences have no per-inference median
    assert sum(layer["share"] for layer in summary["layers"]) == pytest.approx(1.0)
    assert summary["iterations"] == 4
    tot = summary["totals"]
    assert tot["layer_sum_ms"] == pytest.approx(2.5)
    assert tot["gap_ms"] == pytest.approx(np.mean([4.0, 2.1, 2.1, 2.1]) - 2.5)
    assert [g["op_type"] for g in summary["by_op_type"]] == ["Convolution", "Transpose"]


def test_per_inference_rows_give_medians() -> None:
    layers = [_layer("a", "MatMul")]
    summary = summarize_run(_run(layers, [[1.0], [2.0], [9.0]], [1, 1, 1], [1.1, 2.1, 9.1]))
    assert summary["layers"][0]["median_ms"] == pytest.approx(2.0)
    assert summary["totals"]["latency_ms"]["value"] == pytest.approx(2.1)


def test_precision_report_counts_float_compute_in_quantized_model() -> None:
    layers = [_layer("q1", "Convolution", "int8"), _layer("big", "Convolution", "f32"), _layer("r", "Reorder")]
    summary = summarize_run(_run(layers, [[1.0, 3.0, 0.1]], [1], [4.2]))
    report = summary["precision"]
    assert report["quantized"]
    assert report["float_compute_share"] == pytest.approx(0.75)
    assert report["low_precision_compute_share"] == pytest.approx(0.25)
    assert report["float_compute_layers"][0]["name"] == "big"
    codes = {f.code: f for f in diagnose(summary)}
    assert codes["float-layers-in-quantized-model"].layers == ("big",)
    assert codes["float-layers-in-quantized-model"].severity == "high"


def test_int8_glue_in_a_float_model_is_not_quantization() -> None:
    # OpenVINO runs BERT's attention-mask Where/Gather on booleans in int8: the model is still float.
    layers = [_layer("where", "Subgraph", "int8"), _layer("fc", "FullyConnected", "f32")]
    summary = summarize_run(_run(layers, [[0.1, 5.0]], [1], [5.2]))
    assert not summary["precision"]["quantized"]
    assert "float-layers-in-quantized-model" not in {f.code for f in diagnose(summary)}
    layers = [_layer("fq", "FakeQuantize", "f32"), _layer("fc", "FullyConnected", "f32")]
    assert summarize_run(_run(layers, [[0.1, 5.0]], [1], [5.2]))["precision"]["quantized"]


def test_diagnosis_rules_fire_on_their_evidence_only() -> None:
    slow = _layer("lrn", "LRN", slow="reference kernel ref_any_f32")
    memory = [_layer("t1", "Transpose"), _layer("t2", "Reshape"), _layer("c", "Convolution")]
    assert [f.code for f in diagnose(summarize_run(_run([slow, memory[2]], [[3.0, 1.0]], [1], [4.0])))] == [
        "reference-kernels"
    ]
    found = diagnose(summarize_run(_run(memory, [[2.0, 1.0, 1.0]], [1], [4.05])))
    assert [f.code for f in found] == ["memory-bound"]
    tiny = summarize_run(_run([memory[2]], [[0.02]], [1], [0.1]))  # 80% of the call outside the layer
    assert [f.code for f in diagnose(tiny)] == ["per-call-overhead"]
    healthy = summarize_run(_run([memory[2]], [[1.0]], [1], [1.02]))
    assert diagnose(healthy) == []
    dyn = ModelFacts({"x": ["batch", 3]}, {"x": [1, 3]})
    assert [f.code for f in diagnose(healthy, dyn)] == ["dynamic-shapes"]  # first inference 10 ms vs ~1 ms


def test_too_few_requests_for_streams() -> None:
    run = LayerRun("fake", (_layer("c", "Convolution"),), [[1.0]], [1], [1.01], "t", 1.0, {}, streams=4)
    found = diagnose(summarize_run(run))
    assert [f.code for f in found] == ["too-few-requests"]
    assert "4 streams" in found[0].title


def test_compare_matches_by_name_then_type_and_reports_speedups() -> None:
    a_layers = [_layer("conv1", "Convolution"), _layer("fc", "FullyConnected"), _layer("old", "Reorder")]
    b_layers = [_layer("conv1", "Convolution", "int8"), _layer("new", "Reorder"), _layer("fcq", "FCQ", "int8")]
    a = summarize_run(_run(a_layers, [[4.0, 1.0, 0.2]] * 4, [1] * 4, [5.3] * 4))
    b = summarize_run(_run(b_layers, [[1.0, 0.2, 1.0]] * 4, [1] * 4, [2.3] * 4))
    pairs = match_layers(a["layers"], b["layers"])
    assert len(pairs) == 4  # conv1 by name, Reorder by type, fc and fcq unmatched
    cmp = compare_profiles(a, b)
    rows = {r["name"]: r for r in cmp["rows"]}
    assert rows["conv1"]["speedup"]["value"] == pytest.approx(4.0)
    assert rows["conv1"]["b_precision"] == "int8"
    assert rows["old"]["name_b"] == "new"
    assert cmp["only_a"] == ["fc"] and cmp["only_b"] == ["fcq"]
    assert cmp["latency_speedup"]["value"] == pytest.approx(5.3 / 2.3)
    assert "old" in cmp["not_faster"]


def test_reference_gap_and_backend_default() -> None:
    summary = summarize_run(_run([_layer("c", "Convolution")], [[9.0]], [1], [10.0]))
    gap = reference_gap(summary, 10.0)
    assert gap is not None and gap["layer_sum_over_latency"] == pytest.approx(0.9)
    assert reference_gap(summary, None) is None

    # The base class's default: a backend without per-layer counters says so, in one line.
    plugin = get_backend("onnxruntime", check=False)
    with pytest.raises(ConfigError, match="not supported by backend onnxruntime"):
        Backend.profile_layers(plugin, None, {}, None)  # type: ignore[arg-type]


def test_runtime_name_parsing() -> None:
    from inferperf.backends.onnxruntime import ort_precision, split_trace
    from inferperf.backends.openvino_profile import ov_precision, ov_slow_path

    assert ov_precision("brgconv_avx512_I8") == "int8"
    assert ov_precision("jit_avx512_f32") == "f32"
    assert ov_precision("undef") == "unknown"
    assert ov_slow_path("ref_any_f32", "LRN") is not None
    assert ov_slow_path("ref_f32", "Concat") is None  # a reference Concat is a memory copy
    assert ov_precision("brgemm_avx512_amx_bf16") == "bf16"
    assert ort_precision("QLinearConv", {}) == "int8"
    assert ort_precision("Conv", {"input_type_shape": [{"float": [1, 3]}]}) == "f32"
    events: list[dict[str, Any]] = [
        {"cat": "Session", "name": "model_run", "ts": 100, "dur": 50},
        {"cat": "Node", "name": "a_kernel_time", "ts": 110, "dur": 5},
        {"cat": "Node", "name": "a_fence_before", "ts": 109, "dur": 0},
        {"cat": "Session", "name": "model_run", "ts": 200, "dur": 50},
        {"cat": "Node", "name": "a_kernel_time", "ts": 210, "dur": 7},
        {"cat": "Node", "name": "b_kernel_time", "ts": 220, "dur": 1},
    ]
    groups = split_trace(events)
    assert [len(g) for g in groups] == [1, 2]


# --- the runtimes' own counters ---------------------------------------------------------------------


def test_openvino_reference_kernel_is_diagnosed(ref_kernel_onnx: Path) -> None:
    pytest.importorskip("openvino")
    doc = api.profile(ref_kernel_onnx, backend="openvino", **QUICK)
    prof = doc["profile"]
    slow = next(layer for layer in prof["layers"] if layer["op_type"] == "CumSum")
    assert slow["kernel"].startswith("ref")
    assert slow["slow_path"]
    codes = {f["code"]: f for f in doc["findings"]}
    assert "reference-kernels" in codes
    assert slow["name"] in codes["reference-kernels"]["layers"]
    assert prof["iterations"] >= 10
    assert prof["totals"]["layer_sum_ms"] > 0


@pytest.mark.precision
def test_openvino_hot_fp32_layer_in_int8_model_is_diagnosed(half_quantized_onnx: Path) -> None:
    pytest.importorskip("openvino")
    doc = api.profile(half_quantized_onnx, backend="openvino", **QUICK)
    report = doc["profile"]["precision"]
    assert report["quantized"]
    convs = {layer["precision"] for layer in doc["profile"]["layers"] if layer["op_type"] == "Convolution"}
    # The float conv runs at the CPU's default float precision (bf16 on AMX / AVX-512 BF16): read it back.
    float_precision = str(doc["profile"]["effective"].get("INFERENCE_PRECISION_HINT") or "f32")
    assert convs == {"int8", float_precision}
    finding = next(f for f in doc["findings"] if f["code"] == "float-layers-in-quantized-model")
    hottest = report["float_compute_layers"][0]
    assert hottest["op_type"] == "Convolution" and hottest["share_of_compute"] > 0.5
    assert finding["layers"][0] == hottest["name"]


def test_onnxruntime_profile_and_json(tiny_onnx: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    doc = api.profile(tiny_onnx, backend="onnxruntime", **QUICK)
    prof = doc["profile"]
    assert prof["backend"] == "onnxruntime"
    assert prof["layers"] and all(layer["provider"] == "CPUExecutionProvider" for layer in prof["layers"])
    assert prof["layers"][0]["median_ms"] is not None  # ORT times every inference
    assert len(prof["samples"]["latency_ms"]) == prof["iterations"]
    assert not math.isnan(prof["totals"]["gap_share"])
    from inferperf.results.schema import save_json

    path = save_json(doc, tmp_path / "p.json")
    assert json.loads(path.read_text())["kind"] == "profile"


@pytest.mark.slow
def test_cli_profile_and_compare(ref_kernel_onnx: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    runner = CliRunner()
    args = ["profile", "--seconds", "0.3", "--reference-time", "0.2", "--top", "3"]
    res = runner.invoke(app, [*args, str(ref_kernel_onnx), "--json", str(tmp_path / "one.json")])
    assert res.exit_code == 0, res.output
    assert "reference kernel" in res.output and "layers by time" in res.output
    pair = [str(ref_kernel_onnx), str(ref_kernel_onnx)]
    res = runner.invoke(app, [*args, "--compare", *pair, "--json", str(tmp_path / "c.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["kind"] == "profile-compare"
    assert all(r["speedup"] is not None for r in doc["comparison"]["rows"])
    res = runner.invoke(app, ["profile", "--compare", str(ref_kernel_onnx)])
    assert res.exit_code == 2 and "exactly two models" in res.output


# ---------------------------------------------------------------- --shapes: one profile per shape group


@pytest.mark.precision
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_profile_per_shape_group_and_growth(backend: str, two_input_onnx: Path) -> None:
    if backend == "openvino":
        pytest.importorskip("openvino")
    # Groups large enough that each layer's average stays above OpenVINO's whole-microsecond resolution.
    doc = api.profile_shapes(
        two_input_onnx, "ids[1,16384];ids[1,2048]", backend=backend, seconds=0.3, warmup_s=0.1, int_range=(0, 49)
    )
    if backend == "openvino":
        precision = doc["groups"][0].get("effective", {}).get("INFERENCE_PRECISION_HINT")
        assert precision in (None, "f32", "bf16", "f16")
    assert doc["kind"] == "profile-shapes"
    assert [g["group"] for g in doc["groups"]] == ["ids[1,2048]", "ids[1,16384]"]  # in size order
    assert [g["elements"] for g in doc["groups"]] == [4096, 32768]  # ids and mask follow the same sequence
    assert all(g["iterations"] > 0 and g["totals"]["layer_sum_ms"] > 0 for g in doc["groups"])
    first = doc["scaling"][0]
    assert first["op_type"] == "all layers" and len(first["mean_ms"]) == 2
    assert first["growth_exponent"] is not None and math.isfinite(first["growth_exponent"])
    assert all(0 <= s <= 1.0001 for row in doc["scaling"][1:] for s in row["share"] if not math.isnan(s))


def test_growth_exponent_of_known_curves() -> None:
    from inferperf.measure.profile import shape_scaling

    def group(elements: int, ms: dict[str, float]) -> dict[str, Any]:
        rows = [{"op_type": k, "mean_ms": v} for k, v in ms.items()]
        return {"elements": elements, "by_op_type": rows, "totals": {"layer_sum_ms": sum(ms.values())}}

    rows = shape_scaling([group(10, {"MatMul": 1.0, "Softmax": 0.1}), group(100, {"MatMul": 10.0, "Softmax": 10.0})])
    by = {r["op_type"]: r for r in rows}
    assert by["MatMul"]["growth_exponent"] == pytest.approx(1.0)
    assert by["Softmax"]["growth_exponent"] == pytest.approx(2.0)
    assert rows[0]["op_type"] == "all layers" and by["MatMul"]["share"][1] == pytest.approx(0.5)


def test_profile_shapes_errors_are_one_line(two_input_onnx: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["profile", str(two_input_onnx), "--shapes", "ids[1,4..64]", "--backend", "onnxruntime"])
    assert res.exit_code == 2 and "takes fixed groups" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["profile", str(two_input_onnx), "--shapes", "ids[1,4]", "--shape", "ids[1,4]"])
    assert res.exit_code == 2 and "leave out --compare and --shape" in res.output


@pytest.mark.slow
def test_cli_profile_shapes_prints_growth(two_input_onnx: Path, tmp_path: Path) -> None:
    args = ["profile", str(two_input_onnx), "--backend", "onnxruntime", "--shapes", "ids[1,8];ids[1,256]"]
    args += ["--seconds", "0.3", "--int-range", "0,49", "--json", str(tmp_path / "p.json")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "growth exponent" in res.output
    assert json.loads((tmp_path / "p.json").read_text())["scaling"][0]["op_type"] == "all layers"
    page = tmp_path / "p.html"
    shown = CliRunner().invoke(app, ["report", str(tmp_path / "p.json"), "--html", str(page)])
    assert shown.exit_code == 0, shown.output
    assert "Time per op type against input size" in page.read_text()


def test_openvino_layer_rounded_to_zero_still_counts() -> None:
    """OpenVINO 2026 reports a layer whose running average rounds to 0 us as NOT_RUN: a layer seen running
    at the first inference stays a layer (time 0), and only layers that never ran count as skipped."""
    from datetime import timedelta
    from types import SimpleNamespace

    from inferperf.backends.openvino_profile import OpenVINOLayerProfiler

    class Request:
        latency = 0.01

        def __init__(self) -> None:
            self.calls = 0

        def set_input_tensors(self, _tensors: object) -> None:
            pass

        def infer(self) -> None:
            self.calls += 1

        def get_profiling_info(self) -> list[SimpleNamespace]:
            fast = "EXECUTED" if self.calls < 2 else "NOT_RUN"  # its average falls under 0.5 us
            us = 3 if self.calls < 2 else 0

            def row(name: str, status: str, t: int) -> SimpleNamespace:
                return SimpleNamespace(
                    node_name=name,
                    node_type="Gather",
                    exec_type="jit_avx512_f32",
                    status=SimpleNamespace(name=status),
                    real_time=timedelta(microseconds=t),
                )

            return [row("slow", "EXECUTED", 40), row("fast", fast, us), row("fused", "NOT_RUN", 0)]

    engine = SimpleNamespace(effective=lambda: {})
    profiler = OpenVINOLayerProfiler(engine, Request(), lambda _s: {}, "CPU")  # type: ignore[arg-type]
    profiler.first_inference({})
    profiler.run([{}], 3, record=False)  # the warm-up: by its end the fast layer's average reads 0
    profiler.run([{}], 5)
    run = profiler.result()
    assert [layer.name for layer in run.layers] == ["slow", "fast"]
    assert run.skipped == {"NOT_RUN": 1}
    assert run.times_ms[0] == [pytest.approx(0.040), 0.0]  # the fake's 40 us; the rounded layer's 0
