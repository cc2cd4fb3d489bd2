"""Zoo registry, exports (slow, need torch), doctor, and the built-in model's accuracy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.errors import ConfigError, ModelError
from inferperf.model import load_model_info, zoo

HAS_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
runner = CliRunner()

REQUIRED = {
    "resnet50",
    "mobilenet_v2",
    "efficientnet_b0",
    "vit_base_patch16_224",
    "bert_base",
    "distilbert",
    "gpt2",
    "whisper_tiny_encoder",
    "yolos_tiny",
}


def test_zoo_lists_the_required_architectures() -> None:
    assert set(zoo.ENTRIES) >= REQUIRED
    rows = api.zoo_list()
    assert {r["name"] for r in rows} >= REQUIRED
    result = runner.invoke(app, ["zoo", "list"])
    assert result.exit_code == 0 and "resnet50" in result.output


def test_zoo_bad_names_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERPERF_CACHE", str(tmp_path))
    with pytest.raises(ModelError, match="unknown zoo model 'resnet51'"):
        zoo.export("resnet51")
    with pytest.raises(ConfigError, match="invalid `batch`"):
        zoo.export("resnet50", batch="many")
    with pytest.raises(ConfigError, match="invalid format"):
        zoo.export("resnet50", fmt="tflite")
    result = runner.invoke(app, ["bench", "zoo:nope"])
    assert result.exit_code == 2 and "unknown zoo model" in result.output


@pytest.mark.skipif(HAS_TORCH, reason="checks the message shown when torch is missing")
def test_zoo_without_torch_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERPERF_CACHE", str(tmp_path))
    result = runner.invoke(app, ["zoo", "export", "resnet50"])
    assert result.exit_code == 2
    assert "pip install 'inferperf[torch]'" in result.output


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="zoo exports need the torch extra")
def test_zoo_resnet50_export_counts_4_1_gmacs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERPERF_CACHE", str(tmp_path))
    path = zoo.export("resnet50")
    assert path.exists() and zoo.export("resnet50") == path  # cached
    info = load_model_info("zoo:resnet50")
    assert info.metadata["inferperf.zoo"] == "resnet50"
    assert info.inputs[0].shape == ("batch", 3, 224, 224)
    facts = api.flops(path)
    assert facts["gmacs"] == pytest.approx(4.1, rel=0.03)
    assert facts["params"] == pytest.approx(25.6e6, rel=0.02)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="zoo exports need the torch extra")
def test_zoo_transformer_export_runs_at_two_sequence_lengths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transformer export with the installed transformers (5.4-5.8 needed the traceable-mask shim)."""
    import numpy as np
    import onnxruntime as ort

    monkeypatch.setenv("INFERPERF_CACHE", str(tmp_path))
    path = zoo.export("distilbert", dynamic_axes=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for length in (8, 32):  # the sequence axis stayed open: two lengths through one graph
        feeds = {
            "input_ids": np.ones((2, length), dtype=np.int64),
            "attention_mask": np.ones((2, length), dtype=np.int64),
        }
        (hidden,) = session.run(None, feeds)
        assert hidden.shape == (2, length, 768) and np.isfinite(hidden).all()


def test_zoo_release_parsing_reads_major_and_minor() -> None:
    assert zoo._release("5.5.4") == (5, 5)
    assert zoo._release("4.57.6.dev0") == (4, 57)
    assert zoo._release("unknown") == (0, 0)


def test_doctor_without_peak_reports_machine_and_runtimes() -> None:
    doc = api.doctor(measure_peak=False)
    assert doc["kind"] == "doctor"
    assert doc["installed"]["openvino"]["installed"] and doc["installed"]["onnxruntime"]["installed"]
    assert doc["environment"]["cpu"]["cores"] >= 1
    assert "cv_percent" in doc["load"]["noise"]
    assert all({"sign", "advice"} <= set(w) for w in doc["warnings"])


def test_backend_matmul_peak_is_measured() -> None:
    from inferperf.backends import get_backend
    from inferperf.measure.peak import backend_matmul_gflops, numpy_matmul_gflops

    assert numpy_matmul_gflops(n=128, seconds=0.05) > 0
    for name in ("openvino", "onnxruntime"):
        for int8 in (False, True):
            assert backend_matmul_gflops(get_backend(name), n=64, seconds=0.1, int8=int8) > 0


def test_builtin_model_accuracy_on_builtin_split(tmp_path: Path) -> None:
    out = tmp_path / "acc.json"
    result = runner.invoke(app, ["accuracy", "--backend", "onnxruntime", "--batch", "8", "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = api.accuracy(backend="openvino", batch=8)
    assert doc["count"] >= 300
    assert doc["top1"]["value"] >= 0.97
    assert doc["top1"]["ci95"][0] <= doc["top1"]["value"] <= doc["top1"]["ci95"][1]
    import json

    ort = json.loads(out.read_text())
    assert abs(ort["top1"]["value"] - doc["top1"]["value"]) <= 0.002


def test_fp32_peak_probe_pins_f32_where_bf16_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferperf.backends import get_backend
    from inferperf.backends.precision import DEFAULT_PRECISION_ENV
    from inferperf.measure.peak import backend_matmul_probe

    monkeypatch.setenv(DEFAULT_PRECISION_ENV, "bf16")  # act as an AMX / AVX-512 BF16 CPU
    _, executed = backend_matmul_probe(get_backend("openvino"), n=64, seconds=0.1)
    assert executed == "f32"
    _, asked_bf16 = backend_matmul_probe(get_backend("openvino"), n=64, seconds=0.1, precision="bf16")
    assert asked_bf16 in ("bf16", "f32")  # f32 where the CPU has no bf16: read, never assumed


def test_peak_probe_that_ran_another_precision_is_not_recorded_under_its_label(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inferperf import diagnose
    from inferperf.backends import get_backend

    monkeypatch.setattr(diagnose, "backend_matmul_probe", lambda *a, **k: (100.0, "f32"))
    peaks: dict[str, object] = {}
    diagnose._probe(peaks, get_backend("openvino"), "bf16_gflops", 0.1, int8=False, precision="bf16")
    assert peaks["openvino_bf16_gflops"] is None
    assert "ran f32" in str(peaks["notes"])
    diagnose._probe(peaks, get_backend("openvino"), "fp32_gflops", 0.1, int8=False, precision="f32")
    assert peaks["openvino_fp32_gflops"] == 100.0


def test_memory_copy_probe_moves_bytes_at_a_positive_rate() -> None:
    from inferperf.measure.peak import memory_copy_gb_per_s

    assert memory_copy_gb_per_s(megabytes=64, repeats=2) > 0
