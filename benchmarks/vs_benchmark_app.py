"""Is the harness the bottleneck? inferperf bench against OpenVINO's benchmark_app.

For each hint, runs ``inferperf bench`` and ``benchmark_app`` on the same
model and config, interleaved A B A B (the order flips every round so drift
hits both), and prints per-round figures and the geometric-mean ratios
inferperf / benchmark_app of throughput and of median latency. The headline
is the median of the per-round ratios: this machine shifts speed by tens of
percent for minutes at a time, and a shift inside one round spoils only that
round's pair, so many short interleaved rounds with a robust average beat a
few long ones. The goal is both ratios within 0.98-1.02.

    python benchmarks/vs_benchmark_app.py                      # ResNet-50, 16 rounds, 5 s runs
    python benchmarks/vs_benchmark_app.py --model m.onnx --rounds 5 --time 20
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from _common import ensure_resnet50, geomean, inferperf_bench

_TPUT = re.compile(r"Throughput:\s+([\d.]+)\s+FPS")
_MEDIAN = re.compile(r"Median:\s+([\d.]+)\s+ms")


def run_benchmark_app(model: Path, hint: str, seconds: float, nireq: int) -> tuple[float, float]:
    exe = shutil.which("benchmark_app") or str(Path(sys.executable).parent / "benchmark_app")
    cmd = [exe, "-m", str(model), "-d", "CPU", "-hint", hint, "-t", str(int(seconds)), "-nireq", str(nireq)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    text = proc.stdout + proc.stderr
    tput, median = _TPUT.search(text), _MEDIAN.search(text)
    if proc.returncode != 0 or not tput or not median:
        raise RuntimeError(f"benchmark_app failed ({proc.returncode}): {text[-800:]}")
    return float(tput.group(1)), float(median.group(1))


def run_inferperf(model: Path, hint: str, seconds: float, warmup: float) -> tuple[float, float, int]:
    doc = inferperf_bench(
        model,
        ["--backend", "openvino", "--mode", hint, "--hint", hint, "--time", str(seconds), "--warmup", str(warmup)],
    )
    run = doc["runs"][0]
    requests = int(run["effective"].get("requests_in_flight") or 1)
    return float(run["throughput_fps"]["value"]), float(run["latency_ms"]["median"]["value"]), requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="default: random-weight ResNet-50 (built once)")
    parser.add_argument("--hints", default="throughput,latency")
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--time", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=0.0, help="inferperf warm-up (benchmark_app has none)")
    args = parser.parse_args()
    model = args.model or ensure_resnet50()
    ok = True
    for hint in args.hints.split(","):
        tput_ratios, lat_ratios = [], []
        # benchmark_app keeps as many requests in flight as inferperf does (inferperf's throughput default
        # is twice OpenVINO's optimum, see OpenVINOEngine.default_requests): the same work, two drivers.
        nireq = run_inferperf(model, hint, 1.0, 0.0)[2]
        for rnd in range(args.rounds):
            order = ["inferperf", "benchmark_app"] if rnd % 2 == 0 else ["benchmark_app", "inferperf"]
            got = {}
            for tool in order:
                if tool == "inferperf":
                    got[tool] = run_inferperf(model, hint, args.time, args.warmup)[:2]
                else:
                    got[tool] = run_benchmark_app(model, hint, args.time, nireq)
            (ti, li), (tb, lb) = got["inferperf"], got["benchmark_app"]
            tput_ratios.append(ti / tb)
            lat_ratios.append(li / lb)
            print(
                f"[{hint}] round {rnd + 1} ({nireq} in flight): inferperf {ti:.2f} FPS median {li:.2f} ms | "
                f"benchmark_app {tb:.2f} FPS median {lb:.2f} ms | ratios tput {ti / tb:.3f} lat {li / lb:.3f}",
                flush=True,
            )
        mt, ml = statistics.median(tput_ratios), statistics.median(lat_ratios)
        within = 0.98 <= mt <= 1.02 and 0.98 <= ml <= 1.02
        ok &= within
        print(
            f"[{hint}] RESULT median of {args.rounds} round ratios: throughput {mt:.3f}, median latency {ml:.3f} "
            f"-> {'within' if within else 'OUTSIDE'} 0.98-1.02 (geometric means {geomean(tput_ratios):.3f}, "
            f"{geomean(lat_ratios):.3f}; round ranges {min(tput_ratios):.3f}-{max(tput_ratios):.3f}, "
            f"{min(lat_ratios):.3f}-{max(lat_ratios):.3f})",
            flush=True,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
