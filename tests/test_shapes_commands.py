"""--shapes beyond bench and dynamic: quantize, prune, precision and memory judged on a shape distribution."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.config import QuantizeOptions
from inferperf.errors import ConfigError, InputSpecError
from inferperf.model import load_model_info
from inferperf.optimize.quantize import fidelity, stream_split
from inferperf.report.html import figures_for

from .conftest import _save, make_matmul_model

SHAPES = "x[1,2..64,16]"
FAST = {"rounds": 2, "seconds": 0.3}
runner = CliRunner()


@pytest.fixture
def seq_onnx(tmp_path: Path) -> Path:
    """x[batch, seq, 16] @ W[16, 32] + b -> Relu: a token-wise layer with an open sequence axis."""
    return _save(make_matmul_model(("batch", "seq", 16), hidden=32), tmp_path / "seq.onnx")


def test_fidelity_over_ragged_rows_per_group() -> None:
    ref = [np.array([1.0, 0.0]), np.array([1.0, 2.0, 3.0]), np.array([0.0, 5.0, 1.0, 1.0])]
    cand = [np.array([1.0, 0.0]), np.array([-1.0, -2.0, -3.0]), np.array([0.0, 4.0, 1.0, 1.0])]
    got = fidelity(ref, cand, ["short", "long", "long"])
    assert got["top1_agreement"] == pytest.approx(2 / 3)
    assert got["cosine_min"] == pytest.approx(-1.0)
    assert got["max_abs_diff"] == pytest.approx(6.0)
    assert got["per_group"]["short"] == {
        "cosine_mean": 1.0,
        "cosine_min": 1.0,
        "max_abs_diff": 0.0,
        "top1_agreement": 1.0,
        "samples": 1,
    }
    assert got["per_group"]["long"]["samples"] == 2
    assert got["per_group"]["long"]["top1_agreement"] == pytest.approx(0.5)


def test_stream_split_is_seeded_and_keeps_calibration_apart(seq_onnx: Path) -> None:
    info = load_model_info(seq_onnx)
    a = stream_split(info, SHAPES, calibration=10, held_out=8, seed=3)
    b = stream_split(info, SHAPES, calibration=10, held_out=8, seed=3)
    assert a.stream is not None and b.stream is not None
    assert [x["x"].shape for x in a.stream.inputs] == [x["x"].shape for x in b.stream.inputs]
    assert all(np.array_equal(x["x"], y["x"]) for x, y in zip(a.stream.inputs, b.stream.inputs, strict=True))
    assert len(a.calibration) == 10 and a.held_out_count() == 8
    held = {x["x"].tobytes() for x in a.stream.inputs}
    assert not held & {x["x"].tobytes() for x in a.calibration}  # the guard never scores a calibration input
    assert len({x["x"].shape[1] for x in a.calibration}) > 1  # calibrated across lengths, not at one
    assert sum(a.stream.record["calibration_per_group"].values()) == 10


def _check_stream_doc(doc: dict[str, object], stream: int) -> None:
    held = doc["held_out"]
    assert isinstance(held, dict)
    assert held["samples"] == stream and held["shapes"]["spec"] == SHAPES
    assert held["peak_memory_at"]["x"][1] <= 64
    groups = list(held["shapes"]["held_out_per_group"])
    assert len(groups) > 1
    for row in doc["candidates"]:  # type: ignore[attr-defined]
        assert list(row["fidelity"]["per_group"]) == groups  # size order, as the stream reports them
        if row["accepted"]:
            speed = row["speed"]
            assert [g["group"] for g in speed["per_group"]] == groups
            assert len(speed["throughput_fps"]["fp32"]) == FAST["rounds"]
            assert all(g["speedup"]["value"] > 0 for g in speed["per_group"])


@pytest.mark.slow
def test_onnxruntime_quantize_over_a_shape_stream(seq_onnx: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    doc = api.quantize(
        seq_onnx,
        backend="onnxruntime",
        out=tmp_path / "q.onnx",
        options=QuantizeOptions(activation_type="u8", subset_size=20),
        warn=warnings.append,
        shapes=api.ShapeSpec(SHAPES, stream=12),
        max_drop=1.0,
        **FAST,
    )
    assert warnings and "SYNTHETIC" in warnings[0]
    assert doc["calibration"]["samples"] == 20 and doc["calibration"]["synthetic"]
    assert doc["guard"] == "output fidelity: 1 - mean cosine"
    _check_stream_doc(doc, 12)
    row = doc["candidates"][0]
    assert row["fidelity"]["cosine_mean"] > 0.9  # a token-wise MatMul quantizes well at every length
    titles = [f.layout.title.text for f in figures_for(doc)]
    assert any("per shape group" in t for t in titles), titles


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("nncf") is None, reason="NNCF not installed")
def test_openvino_nncf_quantize_over_a_shape_stream(seq_onnx: Path, tmp_path: Path) -> None:
    doc = api.quantize(
        seq_onnx,
        backend="openvino",
        out=tmp_path / "q.xml",
        options=QuantizeOptions(subset_size=16, accuracy_control=False),
        shapes=api.ShapeSpec(SHAPES, stream=10),
        max_drop=1.0,
        **FAST,
    )
    assert doc["calibration"]["samples"] == 16
    _check_stream_doc(doc, 10)


@pytest.mark.slow
def test_precision_over_a_shape_stream(seq_onnx: Path) -> None:
    doc = api.precision(seq_onnx, precisions=["f32"], shapes=api.ShapeSpec(SHAPES, stream=8), max_drop=1.0, **FAST)
    _check_stream_doc(doc, 8)
    row = doc["candidates"][0]
    assert row["fidelity"]["cosine_min"] > 0.9999  # f32 against f32: the same numbers at every length
    assert doc["data"]["synthetic"]


@pytest.mark.slow
def test_prune_over_a_shape_stream(seq_onnx: Path, tmp_path: Path) -> None:
    doc = api.prune(
        seq_onnx,
        backend="onnxruntime",
        out=tmp_path / "p.onnx",
        shapes=api.ShapeSpec(SHAPES, stream=8),
        max_drop=1.0,
        **FAST,
    )
    _check_stream_doc(doc, 8)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"data": "x.npz"}, ConfigError, "leave out `data`"),
        ({"shape": "1,8,16"}, ConfigError, "give one"),
        ({"shapes": api.ShapeSpec("data")}, ConfigError, "give groups or a range"),
        ({"shapes": api.ShapeSpec(SHAPES, stream=1)}, ConfigError, "at least 2 held-out"),
        ({"shapes": api.ShapeSpec("x[1,2..64,15]")}, InputSpecError, "is static 16 in the model"),
        ({"shapes": api.ShapeSpec("x[1,64..2,16]")}, InputSpecError, "low end above its high end"),
    ],
)
def test_bad_shapes_are_clear(
    seq_onnx: Path, tmp_path: Path, kwargs: dict[str, object], error: type, fragment: str
) -> None:
    args: dict[str, object] = {"shapes": api.ShapeSpec(SHAPES, stream=32), **kwargs}
    with pytest.raises(error, match=fragment):
        api.quantize(seq_onnx, backend="onnxruntime", out=tmp_path / "q.onnx", **args, **FAST)  # type: ignore[arg-type]
    assert not (tmp_path / "q.onnx").exists()


@pytest.mark.slow
def test_cli_quantize_shapes_json_and_errors(seq_onnx: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "q.json"
    args = ["quantize", str(seq_onnx), "--backend", "onnxruntime", "--activations", "u8", "--max-drop", "1"]
    args += [
        "--shapes",
        SHAPES,
        "--stream",
        "6",
        "--rounds",
        "2",
        "--subset-size",
        "8",
        "--out",
        str(tmp_path / "q.onnx"),
    ]
    result = runner.invoke(app, [*args, "--json", str(out_json)])
    assert result.exit_code in (0, 3), result.output  # 3: no significant speed-up on a model this small
    assert "per shape group" in result.output
    doc = json.loads(out_json.read_text())
    assert doc["held_out"]["samples"] == 6
    bad = tmp_path / "bad.json"
    for extra, fragment in (
        (["--shapes", "x[1,0..5,16]"], "must start at 1"),
        (["--shape-histogram", str(tmp_path / "h.csv")], "needs --shapes"),
    ):
        result = runner.invoke(app, ["quantize", str(seq_onnx), "--backend", "onnxruntime", *extra, "--json", str(bad)])
        assert result.exit_code == 2 and fragment in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not bad.exists()


# -- memory ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_memory_over_a_shape_stream(seq_onnx: Path, backend: str) -> None:
    doc = api.memory(
        seq_onnx, backend=backend, shapes=api.ShapeSpec(SHAPES, stream=12), steady_s=0.3, leak_iterations=50
    )
    assert doc["shapes"]["spec"] == SHAPES and sum(doc["shapes"]["samples_per_group"].values()) == 12
    assert doc["rows"] and all(r["ok"] for r in doc["rows"]), [r["error"] for r in doc["rows"]]
    for r in doc["rows"]:
        st = r["stream"]
        assert st["inputs"] == 12 and 1 < st["distinct_shapes"] <= 12
        assert r["leak"]["iterations"] == 50
        assert r["config"]["backend"] == backend
        assert isinstance(st["first_pass_growth_mb"], float) and st["other_new_shapes"] <= st["distinct_shapes"] - 1
        assert (r["first_pass_peak_mb"] is not None) == r["peaks_exact"]  # a peak only where VmHWM can be reset


def test_memory_shapes_errors_and_cli(seq_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="leave out `shape` and `batches`"):
        api.memory(seq_onnx, backend="onnxruntime", shapes=api.ShapeSpec(SHAPES, stream=32), batches=[2])
    with pytest.raises(InputSpecError, match="low end above its high end"):
        api.memory(seq_onnx, backend="onnxruntime", shapes=api.ShapeSpec("x[1,9..3,16]"))
    out_json = tmp_path / "m.json"
    args = ["memory", str(seq_onnx), "--backend", "onnxruntime", "--shapes", SHAPES, "--stream", "6"]
    result = runner.invoke(app, [*args, "--steady", "0.2", "--leak-iterations", "20", "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps at 80 columns
    assert "distinct shapes" in text and "the largest input first" in text
    assert json.loads(out_json.read_text())["shapes"]["count"] == 6


# -- coldstart ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_coldstart_meets_each_group_in_a_fresh_process(seq_onnx: Path, backend: str) -> None:
    spec = "x[1,4,16];x[1,32,16];x[1,64,16]"
    doc = api.coldstart(seq_onnx, backend=backend, runs=2, shapes=api.ShapeSpec(spec, stream=12))
    assert list(doc["shapes"]["samples_per_group"]) == ["x[1,4,16]", "x[1,32,16]", "x[1,64,16]"]  # size order
    assert doc["model"]["shapes"]["x"] == [1, 64, 16]  # the record names the largest
    base = doc["variants"][0]
    assert base["runs"] == 2 and not base["failures"]
    assert [g["group"] for g in base["groups"]] == list(doc["shapes"]["samples_per_group"])
    for g in base["groups"]:
        assert len(g["first_ms"]["samples"]) == 2 and g["first_over_second"]["value"] > 0
    # the first group's first inference is the process's first inference
    assert base["groups"][0]["first_ms"]["samples"] == base["phases"]["first_inference_ms"]["samples"]
    assert any("First sight" in f.layout.title.text for f in figures_for(doc))


def test_coldstart_shapes_errors_and_cli(seq_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give one"):
        api.coldstart(seq_onnx, backend="onnxruntime", runs=1, shape="1,8,16", shapes=api.ShapeSpec(SHAPES, stream=32))
    out_json = tmp_path / "c.json"
    args = ["coldstart", str(seq_onnx), "--backend", "onnxruntime", "--runs", "1", "--shapes", SHAPES]
    result = runner.invoke(app, [*args, "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert "first sight of each shape group" in " ".join(result.output.split())
    assert json.loads(out_json.read_text())["variants"][0]["groups"]
    bad = runner.invoke(app, ["coldstart", str(seq_onnx), "--shapes", "x[1,2..64]", "--json", str(tmp_path / "b.json")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output and not (tmp_path / "b.json").exists()


# -- optimize -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_optimize_over_a_shape_stream(seq_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "opt"
    args = ["optimize", str(seq_onnx), "--out", str(out), "--budget", "20s", "--time-scale", "0.05"]
    result = runner.invoke(app, [*args, "--shapes", SHAPES, "--stream", "8", "--max-drop", "99%"])
    assert result.exit_code in (0, 3), result.output
    doc = json.loads((out / "optimize.json").read_text())
    assert doc["options"]["shapes"] == SHAPES
    steps = {s["name"]: s for s in doc["steps"]}
    assert all(s["status"] in ("ok", "skipped") for s in steps.values()), [s.get("error") for s in steps.values()]
    kinds = {name: json.loads(Path(s["path"]).read_text()) for name, s in steps.items() if s["path"]}
    assert kinds["baseline"]["kind"] == "dynamic" and kinds["baseline"]["backend"] == "onnxruntime"
    names = [st["name"] for st in kinds["bench"]["strategies"]]
    assert names == ["dynamic", "bounded", "buckets", "largest"]  # how to compile for the stream
    assert kinds["memory"]["shapes"]["count"] == 8 and kinds["coldstart"]["variants"][0]["groups"]
    assert kinds["quantize"]["held_out"]["shapes"]["spec"] == SHAPES
    assert kinds["tune"]["shapes"]["spec"] == SHAPES
    if "verify" in kinds:
        assert kinds["sweep"]["points"][0]["series"].endswith("(tuned, shape stream)")
        assert "speedup" in doc["headline"]
    assert "Compile strategies on the shape stream" in (out / "report.html").read_text()


def test_optimize_shapes_bad_input(seq_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "opt"
    for extra, fragment in (
        (["--shapes", "x[1,64..2,16]"], "low end above its high end"),
        (["--shape-histogram", str(tmp_path / "h.csv")], "needs --shapes"),
    ):
        result = runner.invoke(app, ["optimize", str(seq_onnx), "--out", str(out), *extra])
        assert result.exit_code == 2 and fragment in result.output and "Traceback" not in result.output
