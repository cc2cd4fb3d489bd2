"""Is the harness the bottleneck on small models? The busy fraction of every backend x scenario.

busy = sum of request latencies / (wall time x requests in flight): the fraction of the run a request
was actually running. What is missing from 1 is the harness's own time between a completion and the
next start. It is read from one run, so it needs no second run and is free of between-run noise.

Models: a tiny MatMul (about 0.01-0.05 ms), a 0.1 ms MLP fixture, a small conv stack (0.5 ms alone, about
0.8-1 ms per inference with the throughput hint's streams), the built-in model (about 0.5 ms)
and a medium conv stack (several ms), all built here with onnx.helper. For each, ``inferperf bench``
runs in a fresh process per backend x scenario; the table prints the busy fraction and the harness
cost per inference in microseconds. The goal: >= 0.97 everywhere.

Then ``--vs-app``: inferperf against benchmark_app on the built-in model (latency hint), interleaved
A B / B A over short rounds, median of per-round ratios (the anchor is benchmark_app's C++ loop).

    python benchmarks/harness_overhead.py [--time 3] [--backends openvino,onnxruntime] [--vs-app 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from _common import inferperf_bench, reexec_on_snapshot
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = ROOT / "src/inferperf/model/data/builtin.onnx"
GOAL = 0.97


def _save(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], x: list[int], y: list[int], path: Path) -> Path:
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def mlp(path: Path, width: int, layers: int) -> Path:
    """x[1,width] through ``layers`` MatMul + Relu."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array((rng.standard_normal((width, width)) * 0.05).astype(np.float32), f"w{i}"))
        out = "y" if i == layers - 1 else f"h{i}"
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]), helper.make_node("Relu", [f"m{i}"], [out])]
        prev = out
    return _save(nodes, inits, [1, width], [1, width], path)


def conv_stack(path: Path, size: int, channels: int, layers: int) -> Path:
    """x[1,3,size,size] through ``layers`` 3x3 convolutions: a medium model of a few milliseconds."""
    rng = np.random.default_rng(0)
    nodes, inits, prev, cin = [], [], "x", 3
    for i in range(layers):
        w = (rng.standard_normal((channels, cin, 3, 3)) * 0.05).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        out = f"r{i}"
        nodes += [
            helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"c{i}"], [out]),
        ]
        prev, cin = out, channels
    nodes.append(helper.make_node("GlobalAveragePool", [prev], ["y"]))
    return _save(nodes, inits, [1, 3, size, size], [1, channels, 1, 1], path)


def busy_of(run: dict[str, Any]) -> tuple[float, float]:
    """Busy fraction and harness microseconds per inference, recomputed from the raw samples (so result
    files written before the ``harness`` field existed can be compared too)."""
    lat_s = sum(run["samples"]["latency_ms"]) / 1e3
    requests = int(run["effective"].get("requests_in_flight", 1))
    wall = run["duration_s"] * requests
    return lat_s / wall, max(0.0, wall - lat_s) / run["count"] * 1e6


def busy_table(models: dict[str, Path], backends: list[str], seconds: float) -> bool:
    ok = True
    print(f"{'model':<10} {'backend':<12} {'scenario':<11} {'median ms':>9} {'busy':>6} {'gap us':>7}")
    for label, path in models.items():
        for backend in backends:
            for scenario in ("latency", "throughput"):
                doc = inferperf_bench(
                    path, ["--backend", backend, "--mode", scenario, "--time", str(seconds), "--warmup", "0.5"]
                )
                run = doc["runs"][0]
                busy, gap = busy_of(run)
                ok &= busy >= GOAL
                print(
                    f"{label:<10} {backend:<12} {scenario:<11} {run['latency_ms']['median']['value']:>9.3f} "
                    f"{busy:>6.3f} {gap:>7.1f}{'' if busy >= GOAL else '  < goal'}",
                    flush=True,
                )
    return ok


_NUM = r"\s+([\d.]+)\s+(ms|us)"


def run_app(model: Path, hint: str, seconds: float, shape: str) -> tuple[float, float, float]:
    """benchmark_app's throughput, median and average latency (ms) with a static ``shape``."""
    import re
    import shutil
    import subprocess

    exe = shutil.which("benchmark_app") or str(Path(sys.executable).parent / "benchmark_app")
    cmd = [exe, "-m", str(model), "-d", "CPU", "-hint", hint, "-t", str(int(seconds)), "-shape", shape]
    text = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    tput = re.search(r"Throughput:\s+([\d.]+)\s+FPS", text)
    median, average = re.search("Median:" + _NUM, text), re.search("Average:" + _NUM, text)
    if not tput or not median or not average:
        raise RuntimeError(f"benchmark_app failed: {text[-600:]}")

    def ms(m: re.Match[str]) -> float:
        return float(m.group(1)) / (1000.0 if m.group(2) == "us" else 1.0)

    return float(tput.group(1)), ms(median), ms(average)


def vs_app(rounds: int, seconds: float) -> None:
    """Interleaved rounds on the built-in model, latency hint: throughput ratio and both busy fractions."""
    tput, busy_ip, busy_app = [], [], []
    for rnd in range(rounds):
        order = ["inferperf", "app"] if rnd % 2 == 0 else ["app", "inferperf"]
        got: dict[str, tuple[float, float]] = {}
        for tool in order:
            if tool == "inferperf":
                doc = inferperf_bench(
                    BUILTIN,
                    ["--backend", "openvino", "--mode", "latency", "--time", str(seconds), "--warmup", "0.5"],
                )
                run = doc["runs"][0]
                got[tool] = (run["throughput_fps"]["value"], busy_of(run)[0])
            else:
                t, _, avg = run_app(BUILTIN, "latency", seconds, "image[1,3,32,32]")
                got[tool] = (t, t * avg / 1e3)  # one request in flight under the latency hint
        tput.append(got["inferperf"][0] / got["app"][0])
        busy_ip.append(got["inferperf"][1])
        busy_app.append(got["app"][1])
        print(
            f"round {rnd + 1}: inferperf {got['inferperf'][0]:.1f} FPS busy {got['inferperf'][1]:.3f} | "
            f"benchmark_app {got['app'][0]:.1f} FPS busy {got['app'][1]:.3f}",
            flush=True,
        )
    print(
        f"built-in model, latency: throughput inferperf/benchmark_app median {statistics.median(tput):.3f} "
        f"(rounds {min(tput):.3f}-{max(tput):.3f}); busy fraction median inferperf "
        f"{statistics.median(busy_ip):.3f}, benchmark_app {statistics.median(busy_app):.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--backends", default="openvino,onnxruntime")
    parser.add_argument("--vs-app", type=int, default=8, help="interleaved rounds against benchmark_app (0 skips)")
    args = parser.parse_args()
    reexec_on_snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        models = {
            "tiny": mlp(Path(tmp) / "tiny.onnx", 16, 1),
            "mlp-0.1ms": mlp(Path(tmp) / "mlp.onnx", 512, 4),
            "conv-0.8ms": conv_stack(Path(tmp) / "small.onnx", 36, 32, 4),  # ~0.5 ms latency hint, ~1 ms per stream
            "builtin": BUILTIN,
            "conv-med": conv_stack(Path(tmp) / "conv.onnx", 112, 32, 6),
        }
        ok = busy_table(models, [b for b in args.backends.split(",") if b], args.time)
    if args.vs_app:
        vs_app(args.vs_app, args.time)
    print("PASS" if ok else f"FAIL: some busy fraction below {GOAL}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
