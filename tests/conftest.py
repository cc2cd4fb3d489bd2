"""Fixtures: tiny ONNX models built with onnx.helper, so backend tests run in seconds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


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
