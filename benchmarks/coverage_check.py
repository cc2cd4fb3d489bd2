"""Do inferperf's intervals hold across reruns? Ten separate ``inferperf bench`` invocations per model.

For each model, ``inferperf bench MODEL`` runs N times (default options unless --extra-args), each in its
own process, one after another. Printed per model and scenario:

- spread of the medians and throughputs over the N invocations ((max - min) / median);
- cross-coverage: over ordered pairs (i, j), the fraction where run j's estimate lies inside run i's
  95% interval (goal >= 80% for the latency median and the throughput);
- mean half-width of the intervals, relative to the estimate (goal <= 5%: still informative);
- the A/A false-alarm rate of ``inferperf compare`` over all pairs and rows (same model, same config:
  every "faster"/"slower" is false; goal <= 5%).

Models: the built-in one, a sub-millisecond MLP and a medium conv stack (built here with onnx.helper;
zoo:resnet50 needs the torch extra: pass --zoo to add it where torch is installed).

    python benchmarks/coverage_check.py [--runs 10] [--extra-args "--repeats 1"]   # the latter: one-run intervals
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import inferperf_bench, reexec_on_snapshot
from harness_overhead import BUILTIN, conv_stack, mlp

METRICS = (("latency median", ("latency_ms", "median")), ("throughput", ("throughput_fps",)))


def _stat(run: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node: Any = run
    for key in path:
        node = node[key]
    return dict(node)


def summarize(docs: list[dict[str, Any]]) -> list[str]:
    lines = []
    scenarios = [r["scenario"] for r in docs[0]["runs"]]
    for scenario in scenarios:
        runs = [next(r for r in d["runs"] if r["scenario"] == scenario) for d in docs]
        for label, path in METRICS:
            stats = [_stat(r, path) for r in runs]
            values = [s["value"] for s in stats]
            spread = (max(values) - min(values)) / statistics.median(values)
            pairs = [(i, j) for i, j in itertools.permutations(range(len(stats)), 2)]
            covered = sum(stats[i]["ci95"][0] <= values[j] <= stats[i]["ci95"][1] for i, j in pairs) / len(pairs)
            half = statistics.mean(
                max(s["value"] - s["ci95"][0], (s["ci95"][1] or s["value"]) - s["value"]) / s["value"] for s in stats
            )
            covers = sorted({str(s.get("covers", "samples")) for s in stats})
            lines.append(
                f"  {scenario:<10} {label:<15} spread {spread * 100:5.1f}%  cross-coverage {covered * 100:5.1f}%  "
                f"mean half-width {half * 100:4.1f}%  covers {','.join(covers)}"
                f"{'' if covered >= 0.8 else '  < 80%'}{'' if half <= 0.05 else '  > 5%'}"
            )
    return lines


def false_alarms(paths: list[Path]) -> tuple[int, int]:
    from inferperf import api

    alarms = rows = 0
    for a, b in itertools.combinations(paths, 2):
        doc = api.compare(a, b)
        rows += len(doc["rows"])
        alarms += sum(r["verdict"] != "no significant difference" for r in doc["rows"])
    return alarms, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--extra-args", default="", help="added to every bench, e.g. '--repeats 1'")
    parser.add_argument("--zoo", action="store_true", help="also zoo:resnet50 (needs the torch extra)")
    parser.add_argument("--models", default="builtin,mlp-sub-ms,conv-medium")
    args = parser.parse_args()
    reexec_on_snapshot()
    extra = shlex.split(args.extra_args)
    with tempfile.TemporaryDirectory() as tmp:
        made = {
            "builtin": BUILTIN,
            "mlp-sub-ms": mlp(Path(tmp) / "mlp.onnx", 512, 4),
            "conv-medium": conv_stack(Path(tmp) / "conv.onnx", 112, 32, 6),
        }
        models: dict[str, Path | str] = {k: v for k, v in made.items() if k in args.models.split(",")}
        if args.zoo:
            models["zoo:resnet50"] = "zoo:resnet50"
        total_alarms = total_rows = 0
        for label, model in models.items():
            docs, paths = [], []
            for i in range(args.runs):
                doc = inferperf_bench(model, extra)
                path = Path(tmp) / f"{label}-{i}.json"
                path.write_text(json.dumps(doc))
                docs.append(doc)
                paths.append(path)
                walls = sum(r["duration_s"] for r in doc["runs"])
                print(f"{label} invocation {i + 1}/{args.runs}: measured {walls:.1f} s", file=sys.stderr, flush=True)
            alarms, rows = false_alarms(paths)
            total_alarms += alarms
            total_rows += rows
            print(f"{label} ({args.runs} invocations, extra args: {args.extra_args or 'none'}):")
            print("\n".join(summarize(docs)))
            print(
                f"  A/A compare: {alarms} of {rows} rows called faster/slower ({alarms / rows * 100:.1f}%)", flush=True
            )
        rate = total_alarms / total_rows if total_rows else 0.0
        print(f"all models: A/A false alarms {total_alarms}/{total_rows} = {rate * 100:.1f}% (goal <= 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
