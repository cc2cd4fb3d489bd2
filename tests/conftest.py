"""Fixtures: tiny ONNX models built with onnx.helper, so backend tests run in seconds."""

from __future__ import annotations

import importlib.util
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
    from inferperf.backends.precision import DEFAULT_PRECISION_ENV

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


@pytest.fixture(autouse=True, scope="session")
def _private_history(tmp_path_factory: pytest.TempPathFactory) -> None:
    """bench records in the history by default: the suite keeps its own, never the user's."""
    from inferperf.results.history import ENV_VAR

    os.environ[ENV_VAR] = str(tmp_path_factory.mktemp("history") / "history.sqlite")


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


# The text OpenVINO GenAI gives when a device refuses a KV-cache type beside its inference precision, as
# measured on a 2-core AVX2 EPYC (OpenVINO 2026.4.1, `KV_CACHE_PRECISION bf16` beside f32 inference);
# AVX-512 BF16 CPUs refuse an f32 cache beside bf16 inference with the same check (issue 33).
KV_REFUSAL = (
    "Exception from src/inference/src/cpp/core.cpp:117:\n"
    "Exception from src/inference/src/dev/plugin.cpp:54:\n"
    "Check 'all_of(ov::element::{inference}, key_cache_type, value_cache_type)' failed at "
    "src/plugins/intel_cpu/src/nodes/executor_pa.cpp:2938:\n"
    "expect kvcache type {inference}, current: {kv} , {kv}\n\n\n"
)


class _RefusingGenAI:
    """openvino_genai whose pipelines refuse what the acted device refuses, with the runtime's own text."""

    def __init__(self, real: object, facts: object) -> None:
        self._real, self._facts = real, facts

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def _check(self, props: dict[str, str]) -> None:
        inference = props.get("INFERENCE_PRECISION_HINT", self._facts.default_inference)  # type: ignore[attr-defined]
        kv = props.get("KV_CACHE_PRECISION")
        if kv and self._facts.refusal(inference, kv):  # type: ignore[attr-defined]
            raise RuntimeError(KV_REFUSAL.format(inference=inference, kv=kv))

    def LLMPipeline(self, folder: str, device: str, **props: object) -> object:  # noqa: N802 - the runtime's name
        self._check({k: str(v) for k, v in props.items() if k != "scheduler_config"})
        return self._real.LLMPipeline(folder, device, **props)  # type: ignore[attr-defined]

    def ContinuousBatchingPipeline(self, folder: str, scheduler: object, device: str, props: dict[str, str]) -> object:  # noqa: N802
        self._check(props)
        return self._real.ContinuousBatchingPipeline(folder, scheduler, device, props)  # type: ignore[attr-defined]


@pytest.fixture
def act_as_device(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``act_as_device("bf16", native=("f32", "bf16"))``: OpenVINO's CPU reports that default inference
    precision, and GenAI's pipelines refuse the KV caches such a device refuses, whatever this CPU is."""
    from inferperf.backends import precision

    def act(default: str, native: tuple[str, ...] = ("f32",), kv_default: str = "u8") -> object:
        facts = precision.DevicePrecisions("CPU", default, native, kv_default, f"acted: a CPU defaulting to {default}")
        monkeypatch.delenv(precision.DEFAULT_PRECISION_ENV, raising=False)
        monkeypatch.setattr(precision, "_read_device", lambda device: facts)
        precision.forget_devices()
        if importlib.util.find_spec("openvino_genai") is not None:  # else the tests that need it skip
            from inferperf.backends import genai

            real = genai.import_genai()
            monkeypatch.setattr(genai, "import_genai", lambda: _RefusingGenAI(real, facts))
        return facts

    yield act
    precision.forget_devices()
