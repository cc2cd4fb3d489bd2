"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESNET50 = ROOT / "build" / "resnet50.onnx"


def ensure_resnet50(path: Path = RESNET50) -> Path:
    """Build the random-weight ResNet-50 ONNX once (needs the torch extra and transformers)."""
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks/make_resnet50.py"), "--out", str(path)], check=True)
    return path


_SNAPSHOT: list[str] = []


def _snapshot_env() -> dict[str, str]:
    # Benchmarks run for many minutes; a snapshot of src/ taken at start keeps edits made
    # meanwhile out of the later rounds (every round must measure the same code).
    if not _SNAPSHOT:
        tmp = tempfile.mkdtemp(prefix="inferperf-bench-src-")
        shutil.copytree(ROOT / "src", Path(tmp) / "src")
        _SNAPSHOT.append(str(Path(tmp) / "src"))
    return {**os.environ, "PYTHONPATH": _SNAPSHOT[0]}


def inferperf_bench(model: Path | str, args: list[str]) -> dict[str, Any]:
    """Run ``inferperf bench`` in a fresh process and return its result document."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "inferperf", "bench", str(model), *args, "--json", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_snapshot_env())
        if proc.returncode != 0:
            raise RuntimeError(f"inferperf failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        doc: dict[str, Any] = json.loads(out.read_text())
        return doc


def geomean(values: list[float]) -> float:
    """Geometric mean: the right average for ratios."""
    return math.exp(sum(math.log(v) for v in values) / len(values))


def reexec_on_snapshot() -> None:
    """Re-run this script with PYTHONPATH on a snapshot of src/, so workers it spawns use it too."""
    if os.environ.get("INFERPERF_SNAPSHOT"):
        return
    env = {**_snapshot_env(), "INFERPERF_SNAPSHOT": "1"}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def start_server(folder: Path, port: int, batching: bool) -> subprocess.Popen[bytes]:
    """`transformers serve` on ``folder`` at 127.0.0.1:``port`` (the executable beside this Python), once it answers."""
    exe = Path(sys.executable).parent / "transformers"
    cmd = [str(exe), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    cmd += ["--continuous-batching"] if batching else []
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return proc
        except OSError:
            time.sleep(1)
    proc.kill()
    raise SystemExit("transformers serve did not come up within 180 s")
