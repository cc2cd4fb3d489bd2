"""Datasets as inputs (image folders, .npz/.npy, built-in split) and the accuracy evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from inferperf.backends import get_backend
from inferperf.config import RuntimeConfig
from inferperf.errors import InputSpecError
from inferperf.inputs.dataset import PreprocessSpec, load_dataset, model_preprocess, preprocess_images
from inferperf.model import load_model_info
from inferperf.optimize.accuracy import evaluate, topk_correct
from inferperf.stats import clopper_pearson


def test_topk_and_clopper_pearson_known_values() -> None:
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    labels = np.array([1, 1, 0])
    assert topk_correct(logits, labels, 1) == 1
    assert topk_correct(logits, labels, 2) == 2
    assert topk_correct(logits, labels, 5) == 3  # k capped at the class count
    lo, hi = clopper_pearson(5, 10)
    assert lo == pytest.approx(0.187086, abs=1e-5) and hi == pytest.approx(0.812914, abs=1e-5)
    assert clopper_pearson(10, 10)[1] == 1.0 and clopper_pearson(0, 10)[0] == 0.0


def test_preprocess_resize_mean_scale_layout() -> None:
    img = np.full((4, 6, 3), 200, np.uint8)
    img[..., 2] = 0
    spec = PreprocessSpec(mean=(100.0, 100.0, 100.0), scale=(50.0, 50.0, 50.0), layout="NCHW", color="BGR")
    x = preprocess_images([img], spec, (2, 3))
    assert x.shape == (1, 3, 2, 3) and x.dtype == np.float32
    assert np.allclose(x[0, 0], -2.0)  # BGR: channel 0 is the old blue (0 -> (0-100)/50)
    assert np.allclose(x[0, 1], 2.0)
    nhwc = preprocess_images([img], PreprocessSpec(layout="NHWC"), (4, 6))
    assert nhwc.shape == (1, 4, 6, 3) and nhwc[0, 0, 0, 0] == 200.0


def _image_model(tmp_path: Path) -> Path:
    """x[N,3,8,8] -> mean over H,W -> logits[N,3] (so the brightest channel wins)."""
    from onnx import TensorProto, helper

    axes = onnx.numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x", "axes"], ["logits"], keepdims=0)],
        "img",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    pre = {"size": [8, 8], "mean": [0, 0, 0], "scale": [255, 255, 255], "layout": "NCHW", "color": "RGB"}
    helper.set_model_props(model, {"inferperf.preprocess": json.dumps(pre)})
    path = tmp_path / "img.onnx"
    onnx.save(model, str(path))
    return path


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    for label, channel in (("a_red", 0), ("b_green", 1), ("c_blue", 2)):
        (root / label).mkdir(parents=True)
        for i in range(3):
            arr = np.zeros((16, 12, 3), np.uint8)
            arr[..., channel] = 200 + i
            Image.fromarray(arr).save(root / label / f"{i}.png")
    (root / "a_red" / "notes.txt").write_text("ignored")
    return root


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_folder_dataset_and_accuracy(tmp_path: Path, backend: str) -> None:
    info = load_model_info(_image_model(tmp_path))
    assert model_preprocess(info).scale == (255.0, 255.0, 255.0)
    folder = _folder(tmp_path)
    data = load_dataset(folder, info)
    assert len(data) == 9 and data.classes == ("a_red", "b_green", "c_blue")
    assert data.samples["x"].shape == (9, 3, 8, 8)
    plugin = get_backend(backend)
    report = evaluate(plugin, info, data, RuntimeConfig(backend=backend), batch=4)  # 9 = 4 + 4 + 1 padded
    assert report.count == 9 and report.top1 == 9 and report.top5 is None
    # Swapping the colour order must break it: the evaluator really scores outputs.
    swapped = load_dataset(folder, info, PreprocessSpec(size=(8, 8), color="BGR"))
    assert evaluate(plugin, info, swapped, RuntimeConfig(backend=backend)).top1 == 3


def test_npz_and_npy_datasets(tmp_path: Path, tiny_onnx: Path) -> None:
    info = load_model_info(tiny_onnx)
    np.savez(tmp_path / "d.npz", x=np.ones((5, 16)), labels=np.arange(5))
    data = load_dataset(tmp_path / "d.npz", info)
    assert len(data) == 5 and data.labels is not None and data.samples["x"].dtype == np.float32
    np.save(tmp_path / "d.npy", np.ones((2, 16), np.float32))
    assert load_dataset(tmp_path / "d.npy", info).labels is None
    np.savez(tmp_path / "bad.npz", y=np.ones((5, 16)))
    with pytest.raises(InputSpecError, match="do not match the model inputs"):
        load_dataset(tmp_path / "bad.npz", info)
    with pytest.raises(InputSpecError, match="data not found"):
        load_dataset(tmp_path / "none", info)
    unlabelled = load_dataset(tmp_path / "d.npy", info)
    with pytest.raises(InputSpecError, match="no labels"):
        evaluate(get_backend("onnxruntime"), info, unlabelled, RuntimeConfig(backend="onnxruntime"))
