"""Do inferperf's intervals hold across reruns? Ten separate ``inferperf bench`` invocations per model.

For each model, ``inferperf bench MODEL`` runs N times (default options unless --extra-args), each in its
own process, one after another. Printed per model and scenario:

- spread of the medians and throughputs over the N invocations ((max - min) / median);
- cross-coverage: over ordered pairs (i, j), the fraction where run j's estimate lies inside run i's
  95% interval (goal >= 80% for the latency median and the throughput);
- mean half-width of the intervals, relative to the estimate (goal <= 5%: still informative);
- the A/A false-alarm rate of ``inferperf compare`` over all pairs and rows (same model, same config:
  every "faster"/"slower" is false; goal <= 5%), twice: from the two files alone (their intervals cover
  the runs inside each invocation), and with the other invocations recorded in a history (leave the pair
  out), from which compare learns the machine's noise between invocations.

Every invocation records itself in a fresh history (``bench --history``), as a user who keeps one does:
from the 4th on, bench's own intervals cover invocations (learned from the earlier ones); cross-coverage
is printed over all invocations and over those ("learned").

Models: the built-in one, a sub-millisecond MLP and a medium conv stack (built here with onnx.helper;
zoo:resnet50 needs the torch extra: pass --zoo to add it where torch is installed).

    python benchmarks/coverage_check.py [--runs 10] [--extra-args "--repeats 1"]   # the latter: one-run intervals
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
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


def _half(stat: dict[str, Any]) -> float:
    """The interval's larger side, relative to the estimate."""
    value = stat["value"]
    return float(max(value - stat["ci95"][0], (stat["ci95"][1] or value) - value) / value)


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
            inside = [stats[i]["ci95"][0] <= values[j] <= (stats[i]["ci95"][1] or math.inf) for i, j in pairs]
            covered = sum(inside) / len(pairs)
            learned = [ok for (i, _), ok in zip(pairs, inside, strict=True) if stats[i].get("covers") == "invocations"]
            learned_text = f" (learned {sum(learned) / len(learned) * 100:5.1f}% of {len(learned)})" if learned else ""
            halves = [_half(s) for s in stats]
            half = statistics.mean(halves)
            taught = [h for h, s in zip(halves, stats, strict=True) if s.get("covers") == "invocations"]
            if taught:
                learned_text += f" half-width learned {statistics.mean(taught) * 100:4.1f}%"
            covers = sorted({str(s.get("covers", "samples")) for s in stats})
            lines.append(
                f"  {scenario:<10} {label:<15} spread {spread * 100:5.1f}%  "
                f"cross-coverage {covered * 100:5.1f}%{learned_text}  "
                f"mean half-width {half * 100:4.1f}%  covers {','.join(covers)}"
                f"{'' if covered >= 0.8 else '  < 80%'}{'' if half <= 0.05 else '  > 5%'}"
            )
    return lines


def _light(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without raw samples: the history's rerun figures come from its summary."""
    return {**doc, "runs": [{**r, "samples": {}} for r in doc["runs"]]}


def false_alarms(paths: list[Path], docs: list[dict[str, Any]], tmp: Path) -> tuple[int, int, int]:
    """(alarms from the files alone, alarms with the other invocations in a history, rows)."""
    from inferperf import api
    from inferperf.results.history import History

    blind = learned = rows = 0
    for i, j in itertools.combinations(range(len(paths)), 2):
        store = History(tmp / f"pair-{i}-{j}.sqlite")
        for k, doc in enumerate(docs):
            if k not in (i, j):
                store.record(_light(doc))
        alone = api.compare(paths[i], paths[j], history=tmp / "none.sqlite")
        taught = api.compare(paths[i], paths[j], history=store.path)
        rows += len(alone["rows"])
        blind += sum(r["verdict"] != "no significant difference" for r in alone["rows"])
        learned += sum(r["verdict"] != "no significant difference" for r in taught["rows"])
        store.path.unlink()
    return blind, learned, rows


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
        total_blind = total_learned = total_rows = 0
        for label, model in models.items():
            os.environ["INFERPERF_HISTORY"] = str(Path(tmp) / f"{label}-history.sqlite")
            docs, paths = [], []
            for i in range(args.runs):
                doc = inferperf_bench(model, [*extra, "--history"])
                path = Path(tmp) / f"{label}-{i}.json"
                path.write_text(json.dumps(doc))
                docs.append(doc)
                paths.append(path)
                walls = sum(r["duration_s"] for r in doc["runs"])
                print(f"{label} invocation {i + 1}/{args.runs}: measured {walls:.1f} s", file=sys.stderr, flush=True)
            blind, learned, rows = false_alarms(paths, docs, Path(tmp))
            total_blind, total_learned, total_rows = total_blind + blind, total_learned + learned, total_rows + rows
            print(f"{label} ({args.runs} invocations, extra args: {args.extra_args or 'none'}):")
            print("\n".join(summarize(docs)))
            print(
                f"  A/A compare: files alone {blind}/{rows} rows called faster/slower ({blind / rows * 100:.1f}%); "
                f"with the other invocations recorded {learned}/{rows} ({learned / rows * 100:.1f}%)",
                flush=True,
            )
        for name, count in (("files alone", total_blind), ("with recorded reruns", total_learned)):
            rate = count / total_rows if total_rows else 0.0
            print(f"all models, {name}: A/A false alarms {count}/{total_rows} = {rate * 100:.1f}% (goal <= 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
