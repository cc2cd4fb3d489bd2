"""Fixtures: tiny ONNX models built with onnx.helper, so backend tests run in seconds."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def _ov_honours(precision: str) -> str | None:
    """None when OpenVINO on this CPU runs float models at ``precision``; else why not."""
    try:
        import openvino as ov
    except ImportError:
        return "OpenVINO is not installed"
    model = make_matmul_model()
    model.ir_version = 8
    core = ov.Core()
    compiled = core.compile_model(
        core.read_model(model.SerializeToString(), b""), "CPU", {"INFERENCE_PRECISION_HINT": precision}
    )
    ran = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    if ran == precision:
        return None
    caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return f"this CPU cannot run OpenVINO at {precision} (it ran {ran}; capabilities {', '.join(caps)})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With INFERPERF_OV_DEFAULT_PRECISION set, precision tests run as a CPU with that default would run
    them, or skip with the reason where this CPU cannot (bf16 needs AVX-512 or AMX in OpenVINO)."""
    from inferperf.backends.openvino import DEFAULT_PRECISION_ENV

    wanted = os.environ.get(DEFAULT_PRECISION_ENV)
    if not wanted:
        return
    reason = _ov_honours(wanted)
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"{DEFAULT_PRECISION_ENV}={wanted}: {reason}")
    for item in items:
        if "precision" in item.keywords:
            item.add_marker(skip)


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_matmul_model(dims: Sequence[int | str] = ("batch", 16), hidden: int = 8) -> onnx.ModelProto:
    """x[dims] @ W[16, hidden] + b -> Relu: one float input, one output."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((dims[-1], hidden)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.ones(hidden, np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["add"]),
        helper.make_node("Relu", ["add"], ["y"]),
    ]
    out_dims = [*dims[:-1], hidden]
    graph = helper.make_graph(
        nodes,
        "tiny_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims)],
        [w, b],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def tiny_onnx(tmp_path: Path) -> Path:
    """Dynamic batch: x[batch,16] -> y[batch,8]."""
    return _save(make_matmul_model(), tmp_path / "tiny.onnx")


@pytest.fixture
def static_onnx(tmp_path: Path) -> Path:
    """Static shapes: x[1,16] -> y[1,8]."""
    return _save(make_matmul_model((1, 16)), tmp_path / "static.onnx")


@pytest.fixture
def two_input_onnx(tmp_path: Path) -> Path:
    """ids[batch,seq] int64 (gathered from a 50-row table) + mask[batch,seq] float -> sum."""
    table = numpy_helper.from_array(np.arange(50 * 4, dtype=np.float32).reshape(50, 4), "table")
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"]),
        helper.make_node("ReduceSum", ["emb", "axes"], ["red"], keepdims=0),
        helper.make_node("Mul", ["red", "mask"], ["out"]),
    ]
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    graph = helper.make_graph(
        nodes,
        "two_inputs",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", "seq"])],
        [table, axes],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "two.onnx")


@pytest.fixture
def external_data_onnx(tmp_path: Path) -> Path:
    """The tiny model with its weights in a separate file (ONNX external data)."""
    model = make_matmul_model(("batch", 16), hidden=64)
    model.ir_version = 8
    path = tmp_path / "ext" / "model.onnx"
    path.parent.mkdir()
    onnx.save(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    return path


@pytest.fixture
def ir_model(tmp_path: Path, tiny_onnx: Path) -> Path:
    """The tiny model converted to OpenVINO IR (.xml + .bin)."""
    ov = pytest.importorskip("openvino")
    out = tmp_path / "ir" / "tiny.xml"
    out.parent.mkdir()
    ov.save_model(ov.convert_model(str(tiny_onnx)), str(out))
    return out


def make_image_model() -> onnx.ModelProto:
    """x[N,3,H,W] -> Conv 3x3 (3->8) -> Relu -> GlobalAveragePool: batch and spatial dims all open."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_image",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 1, 1])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def image_onnx(tmp_path: Path) -> Path:
    """Open batch and spatial dims, like a text recognizer: x[N,3,H,W] -> y[N,8,1,1]."""
    return _save(make_image_model(), tmp_path / "image.onnx")
