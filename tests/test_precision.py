"""One resolver for every precision property of a compile; runtime errors shown by their cause (issue 33)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf.backends.precision import DevicePrecisions, plan_for, resolve_precisions
from inferperf.cli import app
from inferperf.errors import ConfigError, as_flags, runtime_cause
from tests.conftest import KV_REFUSAL, make_matmul_model

runner = CliRunner()
BF16_CPU = DevicePrecisions("CPU", "bf16", ("f32", "bf16"), "u8", "test: AVX-512 BF16")
AVX2_CPU = DevicePrecisions("CPU", "f32", ("f32",), "u8", "test: AVX2 only")
_WHERE = re.compile(r"Exception from \S+:\d+|failed at \S+:\d+")


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# -- the resolver -------------------------------------------------------------------------------------


def test_an_f32_kv_cache_pins_f32_inference_where_the_default_is_bf16() -> None:
    plan = resolve_precisions(BF16_CPU, kv_cache="f32")
    assert plan.properties == {"KV_CACHE_PRECISION": "f32", "INFERENCE_PRECISION_HINT": "f32"}
    assert plan.inference == "f32" and "pinned to f32" in plan.notes[0] and "bf16" in plan.notes[0]
    assert resolve_precisions(AVX2_CPU, kv_cache="f32").notes == ()  # f32 already: nothing to reconcile


def test_a_pair_the_device_refuses_is_refused_naming_both_precisions_and_flags() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_precisions(BF16_CPU, inference="bf16", kv_cache="f32")
    text = as_flags(info.value.one_line())
    assert "KV cache f32" in text and "inference precision bf16" in text
    assert "--kv-cache" in text and "--infer-precision" in text
    with pytest.raises(ConfigError) as info:  # no inference precision makes bf16 work on an AVX2 CPU
        resolve_precisions(AVX2_CPU, kv_cache="bf16")
    text = as_flags(info.value.one_line())
    assert "bf16" in text and "f16, u8, u4" in text and "--kv-cache" in text
    with pytest.raises(ConfigError, match="ACCURACY runs f32"):
        resolve_precisions(BF16_CPU, inference="bf16", execution_mode="ACCURACY")
    with pytest.raises(ConfigError, match="unknown KV-cache precision 'i8'"):
        resolve_precisions(BF16_CPU, kv_cache="i8")


def test_the_accepted_kv_caches_follow_the_inference_precision() -> None:
    assert "f32" not in BF16_CPU.kv_caches_with("bf16") and "bf16" in BF16_CPU.kv_caches_with("bf16")
    assert BF16_CPU.kv_caches_with("f32")[:2] == ("f32", "bf16")
    assert AVX2_CPU.kv_caches_with("f32") == ("f32", "f16", "u8", "u4")
    plan = resolve_precisions(BF16_CPU, execution_mode="ACCURACY", kv_cache="f32")
    assert plan.inference == "f32" and plan.notes == ()  # ACCURACY already runs f32


@pytest.mark.precision
def test_the_cnn_backend_compiles_through_the_same_resolver(act_as_device: Any, tiny_onnx: Path) -> None:
    from inferperf.backends.openvino import build_properties
    from inferperf.config import RuntimeConfig

    act_as_device("bf16", native=("f32", "bf16"))
    assert build_properties(RuntimeConfig()) == {}  # the device's own default: nothing asked, nothing set
    pinned = build_properties(RuntimeConfig(properties={"KV_CACHE_PRECISION": "f32"}))
    assert pinned["INFERENCE_PRECISION_HINT"] == "f32"
    with pytest.raises(ConfigError):
        build_properties(RuntimeConfig(inference_precision="bf16", properties={"KV_CACHE_PRECISION": "f32"}))
    result = runner.invoke(
        app, ["bench", str(tiny_onnx), "--infer-precision", "bf16", "--property", "KV_CACHE_PRECISION=f32"]
    )
    assert result.exit_code == 2 and "--infer-precision" in _plain(result.output), result.output


def test_the_env_default_acts_as_a_bf16_cpu(monkeypatch: pytest.MonkeyPatch, act_as_device: Any) -> None:
    from inferperf.backends.precision import DEFAULT_PRECISION_ENV, device_precisions

    act_as_device("f32")
    monkeypatch.setenv(DEFAULT_PRECISION_ENV, "bf16")
    facts = device_precisions("CPU")
    assert facts.default_inference == "bf16" and DEFAULT_PRECISION_ENV in facts.source
    assert plan_for("CPU").properties == {"INFERENCE_PRECISION_HINT": "bf16"}
    assert plan_for("CPU", kv_cache="f32").properties["INFERENCE_PRECISION_HINT"] == "f32"


# -- the generative engines ---------------------------------------------------------------------------


def _tiny_llm() -> Path:
    pytest.importorskip("openvino_genai")
    from inferperf.model.zoo import llm_folder

    return llm_folder("builtin")[0]


@pytest.mark.precision
def test_genai_pipelines_pin_f32_inference_for_an_f32_cache_on_a_bf16_device(act_as_device: Any) -> None:
    from inferperf.backends.generative import get_generative
    from inferperf.measure.serving import ServeOptions, genai_engine

    folder = _tiny_llm()
    act_as_device("bf16", native=("f32", "bf16"))
    pipe = get_generative("openvino-genai", folder, kv_cache="f32")  # the acted device would refuse bf16+f32
    record = pipe.precision_record()
    assert record is not None and record["inference"] == "f32" and "pinned" in record["notes"][0]
    engine = genai_engine(folder, "CPU", ServeOptions(kv_cache="f32", cache_gb=1))
    assert (engine.precision_record() or {})["inference"] == "f32"


def test_the_acted_device_refuses_with_the_runtimes_text(act_as_device: Any) -> None:
    """What the engines are kept from: the fake runtime refuses f32 beside bf16 as such a CPU does."""
    from inferperf.backends import genai

    folder = _tiny_llm()
    act_as_device("bf16", native=("f32", "bf16"))
    with pytest.raises(RuntimeError) as info:
        genai.import_genai().LLMPipeline(str(folder), "CPU", KV_CACHE_PRECISION="f32")
    assert runtime_cause(info.value) == "expect kvcache type bf16, current: f32 , f32"


@pytest.mark.precision
def test_llm_compress_refuses_a_cache_the_device_cannot_hold_before_compressing(
    act_as_device: Any, tmp_path: Path
) -> None:
    _tiny_llm()
    act_as_device("f32")  # an AVX2 CPU: a bf16 cache is refused beside f32 inference
    result = runner.invoke(app, ["llm-compress", "--kv-cache", "bf16", "--out", str(tmp_path / "c")])
    text = _plain(result.output)
    assert result.exit_code == 2, text
    assert "KV cache bf16" in text and "inference precision f32" in text and "--kv-cache" in text
    assert not (tmp_path / "c").exists()  # refused before any compression ran
    assert len([line for line in text.splitlines() if line.strip()]) == 1 and "Traceback" not in text


# -- runtime errors by their cause ----------------------------------------------------------------------


def _ov_error(action: str) -> RuntimeError:
    ov = pytest.importorskip("openvino")
    model = make_matmul_model()
    model.ir_version = 8
    core = ov.Core()
    source = core.read_model(model.SerializeToString(), b"")
    try:
        if action == "property":
            core.compile_model(source, "CPU", {"KV_CACHE_PRECISION": "xx"})
        elif action == "reshape":
            source.reshape({"x": [2, 17]})
        else:
            core.compile_model(source, "CPU").create_infer_request().infer({"x": np.zeros((2, 5), np.float32)})
    except RuntimeError as exc:
        return exc
    raise AssertionError(f"OpenVINO accepted the bad {action}")


def test_real_openvino_errors_are_shown_by_their_cause() -> None:
    prop = runtime_cause(_ov_error("property"))
    assert prop.startswith("Wrong value xx for property key KV_CACHE_PRECISION") and not _WHERE.search(prop)
    reshape = runtime_cause(_ov_error("reshape"))  # "Check ... failed at" skipped, the node and the reason kept
    assert "While validating node" in reshape and "Incompatible MatMul" in reshape and not _WHERE.search(reshape)
    infer = runtime_cause(_ov_error("infer"))
    assert "ParameterMismatch" in infer and not _WHERE.search(infer)
    refusal = KV_REFUSAL.format(inference="f32", kv="bf16")  # measured on an AVX2 EPYC
    assert runtime_cause(refusal) == "expect kvcache type f32, current: bf16 , bf16"


def test_real_onnxruntime_errors_are_shown_by_their_cause() -> None:
    ort = pytest.importorskip("onnxruntime")
    model = make_matmul_model()
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString())
    with pytest.raises(Exception) as info:
        session.run(None, {"x": np.zeros((2, 5), np.float32)})
    cause = runtime_cause(info.value)
    assert cause.startswith("INVALID_ARGUMENT : Got invalid dimensions for input: x") and "Expected: 16" in cause
    assert cause.count(";") <= 2  # at most 3 lines of cause


def test_a_runtime_refusal_reaches_the_user_by_its_cause_and_whole_with_verbose(tiny_onnx: Path) -> None:
    args = ["bench", str(tiny_onnx), "--shape", "1,16", "--time", "0.2", "--property", "NUM_STREAMS=abc"]
    result = runner.invoke(app, args)
    text = _plain(result.output)
    assert result.exit_code == 3 and "Could not read number of streams from str: abc" in text, text
    assert not _WHERE.search(text) and "Traceback" not in text
    verbose = _plain(runner.invoke(app, ["--verbose", *args]).output)
    assert "the runtime's full message" in verbose and _WHERE.search(verbose)
