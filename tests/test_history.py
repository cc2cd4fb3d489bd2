"""The SQLite history: record, list, show, export, latest match, and 4 processes writing at once."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.errors import ResultError
from inferperf.results.history import History, default_history_path, machine_fingerprint, record
from inferperf.results.schema import SCHEMA, save_json

ENV = {
    "cpu": {"model": "Test CPU", "cores": 2, "logical_cpus": 2, "features": ["AVX2"]},
    "memory_gb": 24.0,
    "os": "Linux 6",
    "hostname": "box",
    "python": "3.11",
    "versions": {"onnxruntime": "1.0"},
}


def _run(scale: float, seed: int, config: dict[str, Any] | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    lat = (rng.normal(10.0, 0.2, 400) * scale).tolist()
    done = np.cumsum(np.asarray(lat) / 1000.0).tolist()
    return {
        "backend": "onnxruntime",
        "scenario": "latency",
        "config": config or {"backend": "onnxruntime", "threads": None},
        "effective": {},
        "phases_ms": {},
        "latency_ms": {
            "median": {"value": float(np.median(lat)), "ci95": [9.9, 10.1]},
            "p90": {"value": 10.5, "ci95": [10.4, 10.6]},
            "p99": {"value": 11.0, "ci95": [10.8, 11.2]},
        },
        "throughput_fps": {"value": 100.0 / scale, "ci95": [99.0, 101.0]},
        "count": 400,
        "batch": 1,
        "duration_s": 4.0,
        "converged": True,
        "stop_reason": "time",
        "load": {},
        "samples": {"latency_ms": lat, "completed_at_s": done},
    }


def bench_doc(
    scale: float = 1.0,
    seed: int = 0,
    sha: str = "abc123",
    created: str = "2026-01-01T00:00:00+00:00",
    env: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A bench result document with raw samples, built without running a model."""
    return {
        "schema": SCHEMA,
        "kind": "bench",
        "created": created,
        "model": {"path": "/m/tiny.onnx", "sha256": sha, "shapes": {"x": [1, 16]}},
        "environment": env or ENV,
        "limits": {},
        "runs": [_run(scale, seed, config)],
        "errors": [],
    }


def test_default_path_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INFERPERF_HISTORY", str(tmp_path / "h.sqlite"))
    assert default_history_path() == tmp_path / "h.sqlite"
    monkeypatch.delenv("INFERPERF_HISTORY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_history_path() == tmp_path / "data" / "inferperf" / "history.sqlite"


def test_record_list_show_keep_everything(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite")
    rid = store.record(bench_doc(), source="test")
    entries = store.entries()
    assert [e["id"] for e in entries] == [rid]
    assert entries[0]["model_sha256"] == "abc123" and entries[0]["machine"] == machine_fingerprint(ENV)
    assert entries[0]["summary"]["runs"][0]["latency_median_ms"] == pytest.approx(10.0, abs=0.1)
    doc = store.get(rid)
    assert doc["environment"] == ENV and len(doc["runs"][0]["samples"]["latency_ms"]) == 400
    assert doc["history"]["source"] == "test"
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ResultError, match="no result 99"):
        store.get(99)


def test_reading_a_missing_history_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="no history"):
        History(tmp_path / "none.sqlite").entries()


def test_latest_matching_needs_same_model_config_and_machine(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite")
    first = store.record(bench_doc(created="t1"))
    second = store.record(bench_doc(created="t2"))
    store.record(bench_doc(created="t3", sha="other"))
    store.record(bench_doc(created="t4", config={"backend": "onnxruntime", "threads": 1}))
    store.record(bench_doc(created="t5", env={**ENV, "hostname": "elsewhere"}))
    new = bench_doc(created="t9")
    match = store.latest_matching(new)
    assert match is not None and match["history"]["id"] == second
    # The new document itself, once recorded, is not its own baseline.
    store.record(new)
    match = store.latest_matching(new)
    assert match is not None and match["history"]["id"] == second
    assert first < second
    assert store.latest_matching(bench_doc(sha="unknown")) is None


def test_compare_against_history_gives_compare_verdicts(tmp_path: Path) -> None:
    hist = tmp_path / "h.sqlite"
    record(bench_doc(scale=1.0, created="t1"), hist)
    slower = save_json(bench_doc(scale=1.2, seed=1, created="t2"), tmp_path / "new.json")
    blind = api.compare_against_history(slower, history=hist)  # one earlier invocation: drift unknown
    assert {r["verdict"] for r in blind["rows"]} == {"inconclusive: separate runs, drift unknown"}
    for k, scale in enumerate((1.01, 0.99, 1.0)):  # reruns recorded on this machine: its drift, ~1%
        record(bench_doc(scale=scale, seed=5 + k, created=f"t0{k}"), hist)
    doc = api.compare_against_history(slower, history=hist)
    rows = {r["metric"]: r for r in doc["rows"]}
    assert rows["latency_median_ms"]["verdict"] == "slower"
    assert rows["latency_median_ms"]["ratio"] == pytest.approx(1.2, rel=0.03)
    result = CliRunner().invoke(app, ["compare", "--against-history", str(slower), "--history-file", str(hist)])
    assert result.exit_code == 0, result.output
    assert "slower" in result.output
    other = save_json(bench_doc(sha="zzz"), tmp_path / "other.json")
    result = CliRunner().invoke(app, ["compare", "--against-history", str(other), "--history-file", str(hist)])
    assert result.exit_code == 2 and "no earlier result" in result.output


def test_compare_still_needs_two_results_without_the_flag(tmp_path: Path) -> None:
    a = save_json(bench_doc(), tmp_path / "a.json")
    result = CliRunner().invoke(app, ["compare", str(a)])
    assert result.exit_code == 2 and "two results" in result.output


def test_cli_list_show_export(tmp_path: Path) -> None:
    hist = tmp_path / "h.sqlite"
    record(bench_doc(created="t1"), hist, "bench")
    record({"schema": SCHEMA, "kind": "coldstart", "environment": ENV, "model": {"sha256": "abc123"}}, hist)
    runner = CliRunner()
    listed = runner.invoke(app, ["history", "list", "--history-file", str(hist)])
    assert listed.exit_code == 0 and "history" in listed.output  # rich wraps cells in a narrow terminal
    assert [e["kind"] for e in api.history_list(hist)] == ["coldstart", "bench"]
    shown = runner.invoke(
        app, ["history", "show", "1", "--history-file", str(hist), "--json", str(tmp_path / "1.json")]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads((tmp_path / "1.json").read_text())["runs"][0]["count"] == 400
    out = tmp_path / "all.jsonl"
    assert runner.invoke(app, ["history", "export", str(out), "--history-file", str(hist)]).exit_code == 0
    assert [json.loads(line)["kind"] for line in out.read_text().splitlines()] == ["bench", "coldstart"]
    csv_out = tmp_path / "runs.csv"
    res = runner.invoke(
        app, ["history", "export", str(csv_out), "--history-file", str(hist), "--format", "csv", "--kind", "bench"]
    )
    assert res.exit_code == 0 and csv_out.read_text().count("onnxruntime") == 1


def _writer(path: str, worker: int, count: int) -> None:
    for i in range(count):
        record(bench_doc(seed=i, created=f"w{worker}-{i}"), path, f"writer {worker}")


def test_four_processes_writing_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = History(path)
    assert store.integrity() == "ok"
    entries = store.entries(limit=1000)
    assert len(entries) == 60
    assert {e["source"] for e in entries} == {f"writer {w}" for w in range(4)}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 60


def test_an_unbounded_interval_end_is_recorded_as_null(tmp_path: Path) -> None:
    """A p99 from a few dozen samples has no upper bound (inf): recording it must not fail."""
    doc = bench_doc()
    doc["runs"][0]["latency_ms"]["p99"]["ci95"] = [10.8, float("inf")]
    store = History(tmp_path / "h.sqlite")
    assert store.get(store.record(doc))["runs"][0]["latency_ms"]["p99"]["ci95"] == [10.8, None]


def test_reruns_are_the_same_configuration_on_the_same_machine_and_versions(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite")
    for k in range(3):
        store.record(bench_doc(scale=1.0 + k / 100, created=f"2026-01-0{k + 1}T00:00:00+00:00"))
    store.record(bench_doc(created="2026-02-01T00:00:00+00:00", config={"backend": "onnxruntime", "threads": 1}))
    store.record(bench_doc(created="2026-03-01T00:00:00+00:00", env={**ENV, "versions": {"onnxruntime": "2.0"}}))
    found = store.reruns(bench_doc(created="2026-04-01T00:00:00+00:00"))[("onnxruntime", "latency")]
    assert sorted(found) == [f"2026-01-0{k + 1}T00:00:00+00:00" for k in range(3)]
    assert {round(f["throughput_fps"], 3) for f in found.values()} == {
        100.0,
        round(100 / 1.01, 3),
        round(100 / 1.02, 3),
    }
    assert set(next(iter(found.values()))) == {
        "throughput_fps",
        "latency_median_ms",
        "latency_p90_ms",
        "latency_p99_ms",
    }


def test_a_generate_result_is_summarised_per_backend_and_prompt_length(tmp_path: Path) -> None:
    def stat(value: float) -> dict[str, Any]:
        return {"median": {"value": value, "ci95": [value, value]}, "p99": {"value": 2 * value, "ci95": [0, 1e9]}}

    level = {"prompt_tokens": 128, "ttft_ms": stat(80.0), "tpot_ms": stat(6.0), "decode_tokens_per_s": stat(160.0)}
    doc = {
        "kind": "generate",
        "model": {"path": "m", "sha256": "x"},
        "results": [{"backend": "openvino-genai", "levels": [level]}],
    }
    store = History(tmp_path / "h.db")
    rid = store.record(doc, source="generate")
    summary = store.entries(kind="generate")[0]["summary"]
    assert store.entries()[0]["id"] == rid
    assert summary["levels"] == [
        {
            "backend": "openvino-genai",
            "prompt_tokens": 128,
            "ttft_median_ms": 80.0,
            "ttft_p99_ms": 160.0,
            "tpot_median_ms": 6.0,
            "tpot_p99_ms": 12.0,
            "decode_tokens_per_s": 160.0,
        }
    ]
