"""The CLI end to end: every bad-input case gets one line, the right exit code, no traceback, no JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf.cli import app
from inferperf.results import SCHEMA, load_result

runner = CliRunner()
FAST = ["--iterations", "20", "--warmup", "0"]


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def _assert_clean_error(code: int, output: str, expected_code: int, fragment: str) -> None:
    assert code == expected_code, output
    assert "Traceback" not in output
    assert fragment in output
    error_lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, output


def test_info_json(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "info.json"
    code, text = _invoke("info", tiny_onnx, "--json", out)
    assert code == 0, text
    assert "[batch?,16]" in text
    doc = json.loads(out.read_text())
    assert doc["schema"] == SCHEMA and doc["kind"] == "info"
    assert doc["model"]["inputs"][0] == {"name": "x", "dtype": "float32", "shape": ["batch", 16], "dynamic": True}


def test_bench_both_backends_json(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, text = _invoke("bench", tiny_onnx, "--backend", "openvino,onnxruntime", *FAST, "--batch", "2", "--json", out)
    assert code == 0, text
    doc = load_result(out)
    assert [(r.backend, r.scenario) for r in doc.runs] == [
        ("openvino", "latency"),
        ("openvino", "throughput"),
        ("onnxruntime", "latency"),
        ("onnxruntime", "throughput"),
    ]
    raw = json.loads(out.read_text())
    run = raw["runs"][0]
    for key in ("median", "p90", "p95", "p99"):
        assert len(run["latency_ms"][key]["ci95"]) == 2
    assert set(run["phases_ms"]) >= {"read", "compile", "first_inference"}
    assert raw["model"]["sha256"] and raw["model"]["shapes"] == {"x": [2, 16]}
    env = raw["environment"]
    assert env["cpu"]["cores"] >= 1 and "openvino" in env["versions"] and "onnxruntime" in env["versions"]
    assert "loadavg_before" in run["load"]
    assert "median" in text and "throughput" in text


def test_config_file_is_read_back_and_cli_wins(tiny_onnx: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps(
            {"runtime": {"hint": "latency", "streams": 1, "batch": 3}, "limits": {"iterations": 15, "warmup_s": 0}}
        )
    )
    out = tmp_path / "r.json"
    code, text = _invoke("bench", tiny_onnx, "--config", cfg, "--mode", "throughput", "--batch", "2", "--json", out)
    assert code == 0, text
    run = load_result(out).runs[0]
    assert run.config["hint"] == "latency" and run.config["streams"] == 1 and run.batch == 2
    assert run.stop_reason == "iterations budget"
    # A result's run config can be fed straight back as --config.
    again = tmp_path / "again.json"
    again.write_text(json.dumps({"config": run.config}))
    code, text = _invoke("bench", tiny_onnx, "--config", again, *FAST, "--mode", "latency")
    assert code == 0, text


def test_npz_inputs_and_int_range(two_input_onnx: Path, tmp_path: Path) -> None:
    npz = tmp_path / "in.npz"
    np.savez(npz, ids=np.zeros((3, 1, 4), np.int64), mask=np.ones((3, 1, 4), np.float32))
    code, text = _invoke(
        "bench", two_input_onnx, "--shape", "ids[1,4],mask[1,4]", "--inputs", npz, *FAST, "--mode", "latency"
    )
    assert code == 0, text
    code, text = _invoke(
        "bench",
        two_input_onnx,
        "--shape",
        "ids[1,4],mask[1,4]",
        "--int-range",
        "0,49",
        "--input-value",
        "mask=1",
        *FAST,
        "--mode",
        "latency",
        "--backend",
        "onnxruntime",
    )
    assert code == 0, text


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["bench", "{tmp}/missing.onnx"], 2, "model file not found"),
        (["bench", "{tmp}/notes.xml"], 2, "not an OpenVINO IR"),
        (["bench", "{tmp}/corrupt.onnx"], 2, "not a valid ONNX model"),
        (["bench", "{tiny}", "--backend", "tensorflow"], 2, "unknown backend 'tensorflow'"),
        (["bench", "{tiny}", "--shape", "1,x"], 2, "bad shape '1,x'"),
        (["bench", "{tiny}", "--shape", "1,16,3"], 2, "rank 3"),
        (["bench", "{two}"], 2, "has dynamic dim 1 (seq)"),
        (["bench", "{tiny}", "--inputs", "{tmp}/wrong.npz"], 2, "unknown ['z'], missing ['x']"),
        (["bench", "{tiny}", "--mode", "fast"], 2, "invalid --mode 'fast'"),
        (["bench", "{tiny}", "--hint", "speed"], 2, "invalid hint 'speed'"),
        (["bench", "{tiny}", "--streams", "0"], 2, "invalid streams 0"),
        (["bench", "{tiny}", "--config", "{tmp}/notes.xml"], 2, "cannot read config file"),
        (["bench", "{tiny}", "--property", "novalue"], 2, "bad --property"),
        (["bench", "{static}", "--backend", "onnxruntime", "--batch", "4"], 3, "cannot reshape input 'x'"),
        (["bench", "{tiny}", "--property", "NOT_A_PROPERTY=1", "--mode", "latency"], 3, "cannot compile"),
    ],
)
def test_bad_input_one_line_and_exit_code(
    args: list[str],
    code: int,
    fragment: str,
    tmp_path: Path,
    tiny_onnx: Path,
    two_input_onnx: Path,
    static_onnx: Path,
) -> None:
    (tmp_path / "notes.xml").write_text("some notes, not a model")
    (tmp_path / "corrupt.onnx").write_bytes(b"\x12\x34garbage" * 50)
    np.savez(tmp_path / "wrong.npz", z=np.ones((1, 16), np.float32))
    subs = {
        "{tmp}": str(tmp_path),
        "{tiny}": str(tiny_onnx),
        "{two}": str(two_input_onnx),
        "{static}": str(static_onnx),
    }
    real = []
    for arg in args:
        for k, v in subs.items():
            arg = arg.replace(k, v)  # noqa: PLW2901 - substitute every placeholder in turn
        real.append(arg)
    out = tmp_path / "out.json"
    got, text = _invoke(*real, *FAST, "--json", out)
    _assert_clean_error(got, text, code, fragment)
    assert not out.exists()  # nothing half-written
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "bench", str(tmp_path / "missing.onnx")])
    assert result.exit_code != 0
    assert result.exception is not None


def test_missing_backend_runtime_is_clear(tiny_onnx: Path) -> None:
    # Simulate onnxruntime not installed: the import fails, the message says how to install.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'onnxruntime':\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from inferperf.cli import main\n"
        f"sys.argv = ['inferperf', 'bench', {str(tiny_onnx)!r}, '--backend', 'onnxruntime']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "backend onnxruntime is not installed (pip install onnxruntime)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "inferperf", "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "bench" in proc.stdout and "info" in proc.stdout


def test_import_without_runtimes() -> None:
    # A meta-path finder that refuses the runtimes, as if they were not installed.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('openvino', 'onnxruntime', 'torch'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import inferperf, inferperf.stats, inferperf.results, inferperf.report, inferperf.backends\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_public_api_names_resolve() -> None:
    import inferperf

    for name in inferperf.__all__:
        assert getattr(inferperf, name) is not None


_COMPILING = ("bench", "accuracy", "coldstart", "memory", "quantize", "prune", "tune", "e2e", "dynamic", "profile")


@pytest.mark.parametrize("command", [*_COMPILING, "scenario", "precision"])
def test_every_compiling_command_takes_the_runtime_options(command: str) -> None:
    import re

    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    assert "--config" in text and "--property" in text
    if command != "precision":  # precision sweeps --precision itself against a pinned f32
        assert "--infer-precision" in text


def test_accuracy_pinned_f32_through_openvino_matches_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferperf import api
    from inferperf.backends.precision import DEFAULT_PRECISION_ENV
    from inferperf.config import RuntimeConfig

    monkeypatch.setenv(DEFAULT_PRECISION_ENV, "bf16")  # as on a bf16-default CPU: the pin must win
    ov = api.accuracy(backend="openvino", batch=8, config=RuntimeConfig(inference_precision="f32"))
    ort = api.accuracy(backend="onnxruntime", batch=8)
    assert ov["executed_precision"] == "f32" and ort["executed_precision"] == "f32"
    assert ov["top1"]["value"] == pytest.approx(ort["top1"]["value"], abs=1 / ov["count"])
