"""The torch backend on tiny modules saved in tmp_path; cross-checks and comparisons; torch missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from inferperf import api
from inferperf.backends import get_backend
from inferperf.cli import app
from inferperf.config import Knob, RunLimits, RuntimeConfig
from inferperf.errors import BackendUnavailableError, ConfigError, InputSpecError, ModelError
from inferperf.measure.crosscheck import compare_arrays, tolerance_for
from inferperf.measure.runner import Collector
from inferperf.model import load_model_info, parse_shape_spec, resolve_shapes
from inferperf.report.console import render_bench

FAST = RunLimits(iterations=20, warmup_s=0.0)
runner = CliRunner()


def _torch() -> Any:
    return pytest.importorskip("torch")


def _two_input_module() -> Any:
    torch = _torch()

    class Net(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, image: Any, scale: Any) -> Any:
            return torch.relu(self.conv(image)).mean(dim=(2, 3)) * scale, image.sum()

    torch.manual_seed(0)
    return Net().eval()


def _examples() -> tuple[Any, Any]:
    torch = _torch()
    return torch.randn(2, 3, 8, 8), torch.randn(2, 4)


@pytest.fixture
def script_pt(tmp_path: Path) -> Path:
    """TorchScript with the input shapes recorded in its extra file."""
    torch = _torch()
    meta = {
        "inputs": [
            {"name": "image", "dtype": "float32", "shape": ["batch", 3, 8, 8]},
            {"name": "scale", "dtype": "float32", "shape": ["batch", 4]},
        ],
        "outputs": [{"name": "pooled", "shape": ["batch", 4]}, {"name": "total", "shape": []}],
    }
    path = tmp_path / "net.pt"
    torch.jit.save(
        torch.jit.trace(_two_input_module(), _examples()), str(path), _extra_files={"inferperf.json": json.dumps(meta)}
    )
    return path


@pytest.fixture
def exported_pt2(tmp_path: Path) -> Path:
    torch = _torch()
    path = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(_two_input_module(), _examples()), str(path))
    return path


def _inputs(batch: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "image": rng.standard_normal((batch, 3, 8, 8)).astype(np.float32),
        "scale": rng.standard_normal((batch, 4)).astype(np.float32),
    }


def _expected(inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    torch = _torch()
    with torch.inference_mode():
        out = _two_input_module()(*(torch.from_numpy(inputs[k]) for k in ("image", "scale")))
    return [t.numpy() for t in out]


def _engine(path: Path, config: RuntimeConfig | None = None, backend: str = "torch") -> Any:
    info = load_model_info(path)
    shapes = {"image": (2, 3, 8, 8), "scale": (2, 4)}
    return get_backend(backend).compile(info, shapes, config or RuntimeConfig(backend=backend))


# ---------------------------------------------------------------- reading files


def test_torchscript_info_from_recorded_shapes(script_pt: Path) -> None:
    info = load_model_info(script_pt)
    assert info.format == "torchscript"
    assert [(s.name, s.shape) for s in info.inputs] == [("image", ("batch", 3, 8, 8)), ("scale", ("batch", 4))]
    assert [s.name for s in info.outputs] == ["pooled", "total"]
    assert resolve_shapes(info, {}, 2) == {"image": (2, 3, 8, 8), "scale": (2, 4)}


def test_torchscript_without_shapes_needs_shape_option(tmp_path: Path) -> None:
    torch = _torch()
    path = tmp_path / "bare.pt"
    torch.jit.save(torch.jit.trace(_two_input_module(), _examples()), str(path))
    info = load_model_info(path)
    assert [s.name for s in info.inputs] == ["image", "scale"]
    with pytest.raises(InputSpecError, match="does not record the shape of input 'image'"):
        resolve_shapes(info, {}, 1)
    shapes = resolve_shapes(info, parse_shape_spec("image[1,3,8,8],scale[1,4]"), 1)
    assert shapes == {"image": (1, 3, 8, 8), "scale": (1, 4)}


def test_exported_program_info(exported_pt2: Path) -> None:
    info = load_model_info(exported_pt2)
    assert info.format == "torch_export"
    assert [(s.name, s.dtype, s.shape) for s in info.inputs] == [
        ("image", "float32", (2, 3, 8, 8)),
        ("scale", "float32", (2, 4)),
    ]
    assert len(info.outputs) == 2


def test_pickled_module_is_refused(tmp_path: Path) -> None:
    torch = _torch()
    path = tmp_path / "full.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 3)), str(path))  # a whole pickled module
    with pytest.raises(ModelError, match=r"refusing to load .*weights_only") as exc:
        load_model_info(path)
    assert "\n" not in exc.value.one_line()


def test_legacy_pickle_is_refused(tmp_path: Path) -> None:
    torch = _torch()
    path = tmp_path / "legacy.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 3)), str(path), _use_new_zipfile_serialization=False)
    with pytest.raises(ModelError, match="refusing to load"):
        load_model_info(path)


def test_state_dict_is_not_a_model(tmp_path: Path) -> None:
    torch = _torch()
    path = tmp_path / "weights.pt"
    torch.save(_two_input_module().state_dict(), str(path))
    with pytest.raises(ModelError, match="holds only weights"):
        load_model_info(path)


# ---------------------------------------------------------------- engine


@pytest.mark.parametrize("fixture", ["script_pt", "exported_pt2"])
def test_outputs_match_the_module(fixture: str, request: pytest.FixtureRequest) -> None:
    engine = _engine(request.getfixturevalue(fixture))
    inputs = _inputs()
    out = engine.infer(inputs)
    for got, want in zip(out.values(), _expected(inputs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert set(engine.phases_ms) == {"read", "compile"}
    eff = engine.effective()
    assert eff["compile"] == "eager" and eff["inference_mode"] is True


def test_channels_last_and_threads(script_pt: Path) -> None:
    config = RuntimeConfig(backend="torch", threads=1, properties={"torch.channels_last": "true", "OTHER_KEY": "1"})
    engine = _engine(script_pt, config)
    inputs = _inputs()
    assert engine.tensors(inputs)[0].is_contiguous(memory_format=_torch().channels_last)
    np.testing.assert_allclose(next(iter(engine.infer(inputs).values())), _expected(inputs)[0], rtol=1e-5, atol=1e-5)
    eff = engine.effective()
    assert eff["channels_last"] is True and eff["intra_op_num_threads"] == 1


def test_run_requests_and_async(script_pt: Path) -> None:
    engine = _engine(script_pt)
    col = Collector(RunLimits(iterations=30, warmup_s=0))
    engine.run_requests([_inputs()], 2, col)
    assert 30 <= len(col.latencies_ms) <= 32
    got: list[int] = []
    pool = engine.start_async(2, lambda tag, out: got.append(tag))
    for tag in range(5):
        pool.submit(_inputs(), tag)
    pool.wait_all()
    assert sorted(got) == list(range(5))


def test_bad_options(script_pt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inferperf.backends import torch as torch_backend

    with pytest.raises(ConfigError, match="unknown torch property"):
        _engine(script_pt, RuntimeConfig(backend="torch", properties={"torch.fast": "yes"}))
    with pytest.raises(ConfigError, match="f32 or bf16"):
        _engine(script_pt, RuntimeConfig(backend="torch", inference_precision="f16"))
    monkeypatch.setattr(torch_backend, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(ConfigError, match="native bf16"):
        _engine(script_pt, RuntimeConfig(backend="torch", inference_precision="bf16"))
    with pytest.raises(ConfigError, match="cannot compile a TorchScript"):
        _engine(script_pt, RuntimeConfig(backend="torch", properties={"torch.compile": "inductor"}))


def test_bf16_autocast_where_native(script_pt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inferperf.backends import torch as torch_backend

    monkeypatch.setattr(torch_backend, "cpu_has_native_bf16", lambda: True)
    engine = _engine(script_pt, RuntimeConfig(backend="torch", inference_precision="bf16"))
    inputs = _inputs()
    got = next(iter(engine.infer(inputs).values()))
    assert got.dtype == np.float32  # bf16 results are handed back in f32
    agreement = compare_arrays(_expected(inputs)[0], got, tolerance_for("bf16"))
    assert agreement["cosine"] > 0.99
    assert engine.effective()["autocast_bf16"] is True


def test_plain_onnx_is_refused(tiny_onnx: Path) -> None:
    _torch()
    info = load_model_info(tiny_onnx)
    with pytest.raises(ConfigError, match="torch cannot run a onnx file"):
        get_backend("torch").compile(info, {"x": (1, 16)}, RuntimeConfig(backend="torch"))


def test_search_space() -> None:
    backend = get_backend("torch", check=False)
    lat = backend.search_space("latency", 4, [])
    names = [k.name for k in lat]
    assert names == ["threads", "property:torch.compile", "property:torch.channels_last"]
    assert all(isinstance(k, Knob) for k in lat)
    thr = backend.search_space("throughput", 4, ["AMX-BF16"])
    assert {"requests", "batch", "inference_precision"} <= {k.name for k in thr}
    applied = lat[1].apply(RuntimeConfig(backend="torch"), "inductor")
    assert applied.properties == {"torch.compile": "inductor"}


@pytest.mark.slow
def test_inductor_compile_time_apart(exported_pt2: Path) -> None:
    from torch._dynamo.utils import counters

    before = sum(counters["stats"].values())
    engine = _engine(exported_pt2, backend="torch-inductor")
    compiled = sum(counters["stats"].values())
    assert engine.effective()["compile"] == "inductor"
    assert compiled > before  # dynamo traced and compiled inside the compile phase ...
    inputs = _inputs()
    for got, want in zip(engine.infer(inputs).values(), _expected(inputs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert sum(counters["stats"].values()) == compiled  # ... and the first call compiled nothing more
    col = Collector(RunLimits(iterations=20, warmup_s=0))
    engine.run_requests([inputs], 2, col)  # compiled code called from worker threads
    assert len(col.latencies_ms) >= 20


# ---------------------------------------------------------------- several backends, one table


def _matmul_module(tiny_onnx: Path, perturb: float = 0.0) -> Any:
    """The tiny ONNX model (x @ w + b, relu) as a torch module, optionally with wrong weights."""
    torch = _torch()
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(tiny_onnx)).graph.initializer}
    w = torch.from_numpy(init["w"] + perturb)
    b = torch.from_numpy(init["b"])

    class MatMul(torch.nn.Module):  # type: ignore[misc, name-defined]
        def forward(self, x: Any) -> Any:
            return torch.relu(x @ w + b)

    return MatMul()


def _as_zoo(tiny_onnx: Path) -> Path:
    import onnx

    proto = onnx.load(str(tiny_onnx))
    onnx.helper.set_model_props(proto, {"inferperf.zoo": "resnet50"})
    onnx.save(proto, str(tiny_onnx))
    return tiny_onnx


@pytest.mark.parametrize(("perturb", "agree"), [(0.0, True), (0.5, False)])
def test_bench_cross_checks_and_compares(
    perturb: float, agree: bool, tiny_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _torch()  # skip without torch: the module below is only built once bench asks for it
    from inferperf.model import zoo

    model = _as_zoo(tiny_onnx)
    monkeypatch.setattr(zoo, "torch_module", lambda name: _matmul_module(model, perturb))
    result = api.bench(model, backends=["onnxruntime", "torch"], limits=FAST, config=RuntimeConfig(batch=2))
    cross = result.cross_check
    assert cross is not None and cross["reference"] == "onnxruntime"
    assert cross["agree"] is agree
    out = cross["pairs"][0]["outputs"][0]
    assert set(out) >= {"max_abs_diff", "cosine", "max_abs_diff_rel"}
    assert result.comparison is not None and [g["scenario"] for g in result.comparison] == ["latency", "throughput"]
    row = result.comparison[0]["rows"][0]
    lo, hi = row["throughput_ratio"]["ci95"]
    assert row["backend"] == "torch" and lo <= row["throughput_ratio"]["value"] <= hi
    doc = result.to_dict()
    assert doc["cross_check"] == cross and doc["comparison"] == result.comparison
    console = Console(record=True, width=250)
    render_bench(result, console)
    text = console.export_text()
    assert "x baseline" in text and ("MISMATCH" in text) is (not agree)


def test_compare_arrays_on_fixed_data() -> None:
    tol = tolerance_for(None)
    ref = np.array([1.0, -2.0, 4.0])
    same = compare_arrays(ref, ref + np.array([0.0, 0.002, 0.0]), tol)
    assert same["max_abs_diff"] == pytest.approx(0.002)
    assert same["max_abs_diff_rel"] == pytest.approx(0.0005)
    assert same["agree"] is True
    assert compare_arrays(ref, -ref, tol)["cosine"] == pytest.approx(-1.0)
    assert compare_arrays(ref, ref[:2], tol)["agree"] is False
    assert compare_arrays(ref, np.array([1.0, np.nan, 4.0]), tol)["agree"] is False


# ---------------------------------------------------------------- without torch


def test_without_torch_others_work_and_torch_says_how(tiny_onnx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(BackendUnavailableError) as exc:
        get_backend("torch")
    assert "pip install 'inferperf[torch]'" in exc.value.one_line()
    result = api.bench(tiny_onnx, backends=["onnxruntime"], limits=FAST)
    assert len(result.runs) == 2
    cli = runner.invoke(app, ["bench", str(tiny_onnx), "--backend", "onnxruntime,torch", "--iterations", "5"])
    assert cli.exit_code == 2, cli.output
    assert "backend torch is not installed" in cli.output and "inferperf[torch]" in cli.output
    assert "Traceback" not in cli.output
