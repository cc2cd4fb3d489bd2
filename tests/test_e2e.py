"""End-to-end stages, pipelining and fused pre-processing, on a tiny image classifier and real image files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from typer.testing import CliRunner

from inferperf import api
from inferperf.backends import get_backend
from inferperf.cli import app
from inferperf.config import RuntimeConfig
from inferperf.errors import ConfigError, InferperfError, InputSpecError
from inferperf.inputs.dataset import PreprocessSpec
from inferperf.measure.e2e import (
    STAGES,
    E2EOptions,
    Pipeline,
    agreement,
    measure_pipelined,
)
from inferperf.measure.e2e_inputs import ImageItem, TopK, get_decoder, load_items
from inferperf.measure.e2e_paths import HostPath, HostPreprocess, StageClock
from inferperf.model import load_model_info
from inferperf.optimize.preprocess import FusionPlan, fuse
from inferperf.results.schema import save_json

FAST = E2EOptions(seconds=0.2, pipelined_seconds=0.6, warmup_items=1)
SPEC = {"size": [16, 16], "mean": [120.0, 110.0, 100.0], "scale": [60.0, 55.0, 50.0], "layout": "NCHW", "color": "BGR"}


def _classifier(path: Path, spec: dict[str, object] = SPEC) -> Path:
    """x[batch,3,16,16] -> 2x2 average pooling (keeps spatial detail) -> Gemm -> logits[batch,5]."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((3 * 8 * 8, 5)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1, 3 * 8 * 8], np.int64), "shape")
    nodes = [
        helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5])],
        [w, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"inferperf.preprocess": json.dumps(spec)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    # Smooth gradients plus a little noise: like a photo, resizing changes it only slightly.
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=-1)
    return np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def classifier(tmp_path: Path) -> Path:
    return _classifier(tmp_path / "cls.onnx")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    Image.fromarray(_photo(40, 30, 0)).save(folder / "a" / "one.jpg", quality=95)
    Image.fromarray(_photo(24, 52, 1)).save(folder / "a" / "two.png")
    Image.fromarray(_photo(16, 16, 2)).save(folder / "b" / "same_size.png")
    Image.fromarray(_photo(33, 47, 3)).convert("L").save(folder / "b" / "gray.png")
    rgba = np.concatenate([_photo(20, 20, 4), np.full((20, 20, 1), 255, np.uint8)], axis=-1)
    Image.fromarray(rgba).save(folder / "b" / "alpha.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _decoders() -> list[str]:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return ["pillow"]
    return ["pillow", "opencv"]


def test_load_items_from_folder_and_arrays(photos: Path, tmp_path: Path) -> None:
    items, source = load_items(photos, None)
    assert len(items) == 5 and source == str(photos)
    arrays = tmp_path / "raw.npz"
    np.savez(arrays, images=np.stack([_photo(10, 12, i) for i in range(3)]))
    items, _ = load_items(None, arrays)
    decoded = get_decoder("pillow").decode(items[1].read())
    np.testing.assert_array_equal(decoded, _photo(10, 12, 1))  # PNG in memory is lossless


def test_load_items_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_items(tmp_path, tmp_path)
    with pytest.raises(ConfigError):
        load_items(None, None)
    with pytest.raises(InputSpecError):
        load_items(tmp_path, None)  # empty folder
    np.savez(tmp_path / "x.npz", other=np.zeros(3))
    with pytest.raises(InputSpecError):
        load_items(None, tmp_path / "x.npz")
    with pytest.raises(ConfigError):
        get_decoder("magick")


def test_stage_clock_laps_add_up_to_total(photos: Path) -> None:
    pre = HostPreprocess(get_decoder("pillow"), PreprocessSpec(size=(16, 16)), (16, 16))
    clock = StageClock()
    x = pre.prepare(ImageItem("one", path=photos / "a" / "one.jpg"), clock)
    assert x.shape == (1, 3, 16, 16) and x.dtype == np.float32 and x.flags.c_contiguous
    assert list(clock.times) == list(STAGES[:5])
    assert sum(clock.times.values()) == pytest.approx(clock.total_ms(), rel=1e-9)


def test_topk_and_agreement() -> None:
    top = TopK(2)({"y": np.array([[0.0, 3.0, 1.0]])})
    assert [i for i, _ in top] == [1, 2]
    assert top[0][1] == pytest.approx(np.exp(3) / (1 + np.exp(3) + np.exp(1)))
    a = {0: np.array([1.0, 2.0]), 1: np.array([2.0, 1.0])}
    b = {0: np.array([1.0, 2.5]), 1: np.array([1.0, 2.0])}
    doc = agreement(a, b)
    assert doc["top1_agreement"] == 0.5 and doc["top1_disagreeing_inputs"] == [1]
    assert doc["max_abs_diff"] == 1.0 and doc["cosine_min"] == pytest.approx(0.8)


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
@pytest.mark.parametrize("decoder", _decoders())
def test_fused_matches_host(classifier: Path, photos: Path, tmp_path: Path, backend: str, decoder: str) -> None:
    doc = api.e2e(classifier, images=photos, backend=backend, decoder=decoder, options=FAST)
    seq = doc["sequential"]
    assert list(seq["stages"]) == list(STAGES)
    assert sum(s["share"] for s in seq["stages"].values()) == pytest.approx(1.0)
    assert all(len(s["samples"]) == seq["count"] for s in seq["stages"].values())
    assert seq["count"] >= 5 and len(seq["samples"]["e2e_ms"]) == seq["count"]
    fused = doc["fused"]
    agree = fused["agreement"]
    assert agree["inputs"] == 5
    assert agree["cosine_min"] >= 0.999 and agree["top1_agreement"] == 1.0
    assert fused["model"]["format"] == ("openvino_ir" if backend == "openvino" else "onnx")
    assert fused["speedup"]["verdict"]
    piped = doc["pipelined"]
    assert piped["count"] >= 2 and piped["throughput_fps"]["value"] > 0
    assert doc["schema"] == "inferperf.result/1" and doc["kind"] == "e2e"
    out = save_json(doc, tmp_path / "e2e.json")
    assert json.loads(out.read_text())["sequential"]["stages"]["infer"]["samples"]


def test_save_fused_and_wrong_suffix(classifier: Path, photos: Path, tmp_path: Path) -> None:
    info = load_model_info(classifier)
    plan = FusionPlan(PreprocessSpec(size=(16, 16)), (16, 16), "RGB", "pillow")
    with pytest.raises(ConfigError, match=r"\.onnx"):
        fuse(get_backend("onnxruntime"), info, plan, tmp_path / "fused.xml")
    details = fuse(get_backend("onnxruntime"), info, plan, tmp_path / "fused.onnx")
    fused = load_model_info(details["path"])
    assert fused.inputs[0].dtype == "uint8" and fused.inputs[0].shape[3] == 3
    assert "inferperf.preprocess" not in fused.metadata  # the old spec would pre-process twice
    with pytest.raises(ConfigError):
        FusionPlan(PreprocessSpec(size=(16, 16), color="GRAY"), (16, 16), "RGB", "pillow")


def test_pipeline_failure_surfaces(classifier: Path, photos: Path) -> None:
    plugin = get_backend("onnxruntime")
    info = load_model_info(classifier)
    config = plugin.configure(RuntimeConfig(backend="onnxruntime"), "throughput")
    engine = plugin.compile(info, {"x": (1, 3, 16, 16)}, config)

    class Broken:
        name = "broken"

        def __call__(self, outputs: dict[str, np.ndarray]) -> None:
            raise ValueError("post-processing bug")

    items, _ = load_items(photos, None)
    pre = HostPreprocess(get_decoder("pillow"), PreprocessSpec(size=(16, 16)), (16, 16))
    pipeline = Pipeline(items, HostPath(pre, engine, "x", (1, 3, 16, 16), "float32", Broken()), 2, 1, 2)
    with pytest.raises(InferperfError, match="post-processing bug"):
        measure_pipelined(pipeline, 5.0)


def test_cli_e2e(classifier: Path, photos: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "r.json"
    saved = tmp_path / "fused.xml"
    args = ["e2e", str(classifier), "--images", str(photos), "--seconds", "0.2", "--pipelined-seconds", "0.6"]
    result = runner.invoke(app, [*args, "--save-fused", str(saved), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "stage medians sum" in result.output and saved.exists()
    doc = json.loads(out.read_text())
    assert doc["fused"]["model"]["saved"] is True
    bad = runner.invoke(app, ["e2e", str(classifier), "--images", str(tmp_path / "missing")])
    assert bad.exit_code == 2 and "inputs not found" in bad.output
