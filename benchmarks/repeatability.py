"""Are the intervals honest about reruns?

Runs ``inferperf bench`` N times in fresh processes on one model and config,
then checks, for every ordered pair of runs (i, j), whether run j's median
lies inside run i's 95% interval for the median, and the same for
throughput. With honest intervals most pairs agree (two independent
estimates each inside the other's 95% interval: roughly 80-95% of pairs,
less when the machine itself shifts between runs). An i.i.d. interval over
thousands of correlated samples would catch far fewer.

    python benchmarks/repeatability.py                        # built-in model, 5 runs, latency
    python benchmarks/repeatability.py --model build/resnet50.onnx --runs 5 --mode throughput
"""

from __future__ import annotations

import argparse
import sys
from itertools import permutations

from _common import inferperf_bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mode", default="latency")
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--max-time", default="30")
    parser.add_argument("--repeats", default="1", help="inferperf bench --repeats per run")
    args = parser.parse_args()
    medians, tputs = [], []
    for i in range(args.runs):
        doc = inferperf_bench(
            args.model,
            ["--backend", args.backend, "--mode", args.mode, "--max-time", args.max_time, "--repeats", args.repeats],  # type: ignore[arg-type]
        )
        run = doc["runs"][0]
        m, t = run["latency_ms"]["median"], run["throughput_fps"]
        medians.append(m)
        tputs.append(t)
        print(
            f"run {i + 1}: median {m['value']:.4f} ms [{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}] "
            f"(+/-{(m['ci95'][1] - m['ci95'][0]) / 2 / m['value'] * 100:.2f}%), "
            f"throughput {t['value']:.2f} [{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}] FPS, "
            f"n={run['count']}, {run['stop_reason']}, other cores busy {run['load'].get('other_cores')}",
            flush=True,
        )
    for name, stats in (("median latency", medians), ("throughput", tputs)):
        pairs = list(permutations(range(len(stats)), 2))
        inside = sum(stats[i]["ci95"][0] <= stats[j]["value"] <= stats[i]["ci95"][1] for i, j in pairs)
        values = [s["value"] for s in stats]
        spread = (max(values) - min(values)) / (sum(values) / len(values)) * 100
        print(
            f"RESULT {name}: {inside}/{len(pairs)} ordered pairs have run j's estimate inside run i's 95% CI; "
            f"spread of estimates {spread:.2f}% of their mean",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
