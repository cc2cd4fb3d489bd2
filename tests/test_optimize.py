"""optimize: a failing step is recorded and the flow goes on; Ctrl-C leaves a partial report; a full quick run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.commands.optimize_flow import Pipeline
from inferperf.config import OptimizeOptions
from inferperf.errors import BackendError


def test_failed_step_recorded_and_interrupt_keeps_partial_report(
    tiny_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Pipeline, api_: object) -> dict[str, object]:
        raise BackendError("runtime fell over")

    def interrupted(self: Pipeline, api_: object) -> dict[str, object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(Pipeline, "_bench", broken)
    monkeypatch.setattr(Pipeline, "_coldstart", interrupted)
    options = OptimizeOptions(backends=("onnxruntime",), time_scale=0.05)
    with pytest.raises(KeyboardInterrupt):
        api.optimize(tiny_onnx, options=options, out=tmp_path)
    doc = json.loads((tmp_path / "optimize.json").read_text())
    statuses = {s["name"]: s["status"] for s in doc["steps"]}
    assert statuses == {"doctor": "ok", "baseline": "ok", "bench": "failed", "coldstart": "interrupted"}
    assert doc["interrupted"] is True
    assert "runtime fell over" in next(s["error"] for s in doc["steps"] if s["name"] == "bench")
    assert (tmp_path / "02-baseline.json").exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "Interrupted" in summary and "failed: runtime fell over" in summary
    assert "<html>" in (tmp_path / "report.html").read_text()[:200]


@pytest.mark.slow
def test_optimize_quick_run_end_to_end(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "opt"
    args = ["optimize", str(tiny_onnx), "--out", str(out), "--budget", "20s", "--time-scale", "0.05"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "optimize.json").read_text())
    assert [s["name"] for s in doc["steps"]][:3] == ["doctor", "baseline", "bench"]
    assert {s["name"] for s in doc["steps"] if s["status"] == "ok"} >= {"baseline", "bench", "tune", "verify"}
    speedup = doc["headline"]["speedup"]
    assert speedup["ci95"][0] <= speedup["value"] <= speedup["ci95"][1]
    for name in ("summary.md", "report.html", "recommended-config.json"):
        assert (out / name).exists(), name
    page = (out / "report.html").read_text()
    # verify, sweep, bench (2), coldstart, memory, tune: every step that ran drew its figure
    assert page.count('class="plotly-graph-div"') >= 6
    assert "<script src=" not in page  # plotly.js is embedded, nothing is fetched
    config = json.loads((out / "recommended-config.json").read_text())
    assert config["runtime"]["backend"] in ("openvino", "onnxruntime")
    assert Path(config["model"]).exists() and Path(config["model"]).stem == "optimized-model"
