"""The async paths, run many times each in a fresh process: no C++ abort, no hang (issue 20).

The abort this guards against was "terminate called after throwing an instance of 'std::system_error'
what(): Resource deadlock avoided": OpenVINO's executor threads held the last reference to a completion
callback that owned the compiled model, so the model was destroyed on its own thread and joined it.
``openvino-async`` is that mechanism bare (it aborted within a few iterations before the fix); the
others are the product's paths that keep requests in flight.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _save, make_matmul_model

STRESS = Path(__file__).with_name("async_stress.py")
RUNS = 50


@pytest.mark.slow
@pytest.mark.parametrize("path", ["openvino-async", "bench", "dynamic", "scenario", "e2e"])
def test_async_path_survives_many_runs(path: str, tmp_path: Path) -> None:
    if path == "scenario":
        pytest.importorskip("mlperf_loadgen")
    model = _save(make_matmul_model(), tmp_path / "tiny.onnx")
    proc = subprocess.run(
        [sys.executable, str(STRESS), path, str(RUNS), str(model)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode} (negative: killed by signal)\n{proc.stderr[-2000:]}"
    assert f"ok {path} {RUNS}" in proc.stdout
