"""Run the async paths many times in this process; any C++ abort or hang kills it (see test_async_stress.py).

python tests/async_stress.py PATH N MODEL_DIR   (PATH: openvino-async, bench, e2e, dynamic, scenario)
Prints "ok PATH N" at the end; the test runs it in a subprocess so an abort is a return code, not a lost suite.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def _bare_async(model: Path, n: int) -> None:
    """The mechanism itself: a callback chain that owns the engine, dropped right after close."""
    from inferperf.backends import get_backend
    from inferperf.config import RuntimeConfig
    from inferperf.model.info import load_model_info

    backend = get_backend("openvino")
    info = load_model_info(model)
    x = np.ones((1, 16), np.float32)
    for _ in range(n):
        engine = backend.compile(info, {"x": (1, 16)}, backend.configure(RuntimeConfig(), "throughput"))
        holder: dict[str, Any] = {"engine": engine, "outs": []}  # the callback owns the engine, as e2e's does
        requests = engine.start_async(4, lambda tag, outs, h=holder: h["outs"].append(tag))
        for k in range(16):
            requests.submit({"x": x}, k)
        requests.wait_all()
        requests.close()
        del engine, holder, requests


def _bench(model: Path, n: int) -> None:
    from inferperf import api
    from inferperf.config import RunLimits

    for _ in range(n):
        api.bench(model, shape="1,16", mode="throughput", limits=RunLimits(time_s=0.05, warmup_s=0.0))


def _e2e(n: int) -> None:
    from inferperf import api
    from inferperf.measure.e2e import E2EOptions

    opts = E2EOptions(seconds=0.05, pipelined_seconds=0.2, requests=4)
    for _ in range(n):
        api.e2e("builtin", data="builtin", options=opts, fuse=False)


def _dynamic(model: Path, n: int) -> None:
    from inferperf import api
    from inferperf.measure.dynamic import DynamicOptions

    opts = DynamicOptions(strategies=("dynamic",), stream=8, rounds=1, requests=3, seed=0)
    for _ in range(n):
        api.dynamic(model, "x[1..4,16]", options=opts)


def _scenario(model: Path, n: int) -> None:
    from inferperf import api
    from inferperf.measure.loadgen import ScenarioOptions

    opts = ScenarioOptions(scenario="offline", min_duration_s=0.05, min_query_count=32, warmup_s=0.05)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            api.scenario(model, options=opts, shape="1,16", out=Path(tmp) / str(i))


def main(path: str, n: int, model: Path) -> None:
    if path == "openvino-async":
        _bare_async(model, n)
    elif path == "bench":
        _bench(model, n)
    elif path == "e2e":
        _e2e(n)
    elif path == "dynamic":
        _dynamic(model, n)
    elif path == "scenario":
        _scenario(model, n)
    else:
        raise SystemExit(f"unknown path {path}")
    print(f"ok {path} {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
