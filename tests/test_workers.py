"""Fresh-process measurements: worker failures, cold start variants, memory phases."""

from __future__ import annotations

import json
import mmap
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.measure.rss import hwm_mb, reset_hwm, rss_mb
from inferperf.measure.worker import run_worker

runner = CliRunner()


def test_worker_round_trip_and_runtime_error(tiny_onnx: Path) -> None:
    job = {
        "task": "coldstart",
        "model": str(tiny_onnx),
        "backend": "onnxruntime",
        "config": {"backend": "onnxruntime"},
        "shapes": {"x": [1, 16]},
    }
    ok = run_worker(job, timeout_s=120)
    assert ok.ok, ok.error
    assert ok.data["compile_ms"] > 0 and ok.data["first_result_at"] >= ok.started_at
    bad = run_worker({**job, "config": {"backend": "onnxruntime", "mmap": False}}, timeout_s=120)
    assert not bad.ok and "no switch for memory-mapped weights" in (bad.error or "")


def test_crashing_worker_is_reported_not_raised() -> None:
    crash = [sys.executable, "-c", "import sys, os; sys.stdin.read(); sys.stderr.write('boom\\n'); os.abort()"]
    result = run_worker({"task": "x"}, timeout_s=30, argv=crash)
    assert not result.ok
    assert "crashed (killed by signal 6)" in (result.error or "") and "boom" in (result.error or "")
    exits = [sys.executable, "-c", "import sys; sys.stdin.read(); print('@@inferperf-result@@ not json'); sys.exit(4)"]
    result = run_worker({"task": "x"}, timeout_s=30, argv=exits)
    assert not result.ok and "exit code 4" in (result.error or "")


def test_hung_worker_is_killed_with_its_children(tmp_path: Path) -> None:
    import psutil

    # The worker starts a child that would outlive it; the whole process group must die.
    pid_file = tmp_path / "child.pid"
    hang = [
        sys.executable,
        "-c",
        "import subprocess, sys, time; sys.stdin.read();"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(120)",
    ]
    result = run_worker({"task": "x"}, timeout_s=3, argv=hang)
    assert not result.ok
    assert "hung: killed after 3 s timeout" in (result.error or "")
    child = int(pid_file.read_text())

    def gone() -> bool:
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    for _ in range(50):  # the kill is immediate; reaping by init may lag a little
        if gone():
            break
        time.sleep(0.1)
    assert gone(), "the worker's child survived the timeout kill"


def test_peak_tracking_sees_a_short_spike() -> None:
    if hwm_mb() is None or not reset_hwm():
        pytest.skip("kernel peak counters (VmHWM, clear_refs) not available")
    base = rss_mb()
    # 200 MiB touched, then unmapped before anyone polls RSS. An anonymous mapping of our own, not the heap:
    # munmap hands the pages back to the kernel whatever the allocator would do with freed memory (glibc on
    # a bf16 EPYC kept a freed bytearray resident, issue 33), so RSS falls and only the peak counter saw it.
    spike = mmap.mmap(-1, 200 * 2**20)
    pages = len(spike) // mmap.PAGESIZE
    spike[:: mmap.PAGESIZE] = b"x" * pages
    during = rss_mb()
    spike.close()
    assert during >= base + 150  # the spike was resident (what the peak must see)
    assert hwm_mb() >= base + 150  # type: ignore[operator]
    assert rss_mb() < during - 150  # gone from RSS: a poller now would miss it


def test_coldstart_onnxruntime_with_cache(tiny_onnx: Path, tmp_path: Path) -> None:
    doc = api.coldstart(tiny_onnx, backend="onnxruntime", runs=2, cache_dir=tmp_path / "cache", timeout_s=120)
    labels = [v["label"] for v in doc["variants"]]
    assert labels[0].startswith("baseline") and "cache warm" in labels and any("path" in x for x in labels)
    for v in doc["variants"]:
        assert v["runs"] == 2 and not v["failures"]
        for phase in ("import_ms", "compile_ms", "first_inference_ms", "time_to_first_result_ms"):
            stat = v["phases"][phase]
            assert stat["ci95"][0] <= stat["value"] <= stat["ci95"][1] and len(stat["samples"]) == 2
    warm = next(v for v in doc["variants"] if v["label"] == "cache warm")
    assert warm["effective"]["cache"].startswith("hit")
    assert set(doc["cache_speedup"]) == {"compile", "time_to_first_result"}
    assert doc["runtime_lacks"]


@pytest.mark.slow
def test_coldstart_cli_openvino_json(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "cold.json"
    result = runner.invoke(
        app,
        [
            "coldstart",
            str(tiny_onnx),
            "--runs",
            "1",
            "--shape",
            "1,16",
            "--cache-dir",
            str(tmp_path / "c"),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["kind"] == "coldstart" and doc["schema"] == "inferperf.result/1"
    by_label = {v["label"]: v for v in doc["variants"]}
    # compile_model(path) cannot reshape a dynamic model: reported as a failed variant, the rest goes on.
    assert by_label["compile from file path"]["failures"][0].startswith("config: compiling from a path")
    assert by_label["memory-mapped weights off"]["runs"] == 1
    assert "bars:" in result.output


def test_memory_rows_and_cli(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "mem.json"
    result = runner.invoke(
        app,
        [
            "memory",
            str(tiny_onnx),
            "--backend",
            "onnxruntime",
            "--batches",
            "1,4",
            "--steady",
            "0.3",
            "--leak-iterations",
            "50",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["kind"] == "memory"
    labels = [r["label"] for r in doc["rows"]]
    assert labels == ["latency defaults", "throughput defaults", "batch 4"]
    for r in doc["rows"]:
        assert r["ok"], r["error"]
        assert r["after_import_mb"] > r["python_mb"] > 0
        assert r["peak_mb"] >= r["after_compile_mb"]
        assert r["throughput_fps"] > 0 and r["leak"]["iterations"] == 50
