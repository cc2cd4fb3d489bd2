"""Result documents: JSON round trip, atomic writes, validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from inferperf.errors import ResultError
from inferperf.results import SCHEMA, BenchResult, RunResult, load_result, save_json


def _run() -> RunResult:
    return RunResult(
        backend="openvino",
        scenario="throughput",
        config={"hint": "throughput", "batch": 1, "properties": {}},
        effective={"NUM_STREAMS": 2, "requests_in_flight": 2},
        phases_ms={"read": 1.5, "compile": 20.0, "first_inference": 3.0},
        latency_ms={"median": {"value": 1.0, "ci95": [0.9, 1.1]}, "mean": 1.0},
        throughput_fps={"value": 100.0, "ci95": [95.0, 105.0]},
        count=3,
        duration_s=0.03,
        converged=True,
        stop_reason="converged",
        batch=1,
        load={"other_cores": 0.0},
        samples={"latency_ms": [1.0, 0.9, 1.1], "completed_at_s": [0.01, 0.02, 0.03]},
    )


def _doc() -> BenchResult:
    return BenchResult(
        model={"path": "m.onnx", "sha256": "ab", "format": "onnx", "inputs": []},
        environment={"cpu": {"model": "x", "cores": 2, "features": []}, "versions": {}},
        limits={"precision": 0.01},
        runs=(_run(),),
        created="2026-11-28T00:00:00+00:00",
        errors=({"backend": "onnxruntime", "scenario": "latency", "error": "boom"},),
    )


def test_round_trip(tmp_path: Path) -> None:
    doc = _doc()
    path = save_json(doc.to_dict(), tmp_path / "sub" / "r.json")
    raw = json.loads(path.read_text())
    assert raw["schema"] == SCHEMA and raw["kind"] == "bench"
    assert isinstance(raw["runs"][0]["latency_ms"]["median"]["value"], float)
    assert load_result(path) == doc


def test_infinite_values_become_null(tmp_path: Path) -> None:
    path = save_json({"schema": SCHEMA, "x": [1.0, math.inf], "y": {"z": math.nan}}, tmp_path / "r.json")
    assert json.loads(path.read_text()) == {"schema": SCHEMA, "x": [1.0, None], "y": {"z": None}}


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    path = save_json(_doc().to_dict(), tmp_path / "r.json")
    before = path.read_text()
    with pytest.raises(ResultError):
        save_json({"bad": object()}, path)  # not serialisable
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp files left


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="not found"):
        load_result(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ResultError, match="cannot read"):
        load_result(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something/9"}))
    with pytest.raises(ResultError, match=r"not an inferperf\.result/1"):
        load_result(other)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema": SCHEMA, "model": {}, "environment": {}, "runs": [{"backend": "x"}]}))
    with pytest.raises(ResultError, match="malformed"):
        load_result(broken)
