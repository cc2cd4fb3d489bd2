"""Done criteria of dynamic-shape workloads (issue 13), on zoo:bert_base with an open sequence length.

1. Sequence lengths drawn uniformly from 16..512: per-group and overall results of every strategy
   (dynamic, buckets, largest, OpenVINO bounded), the buckets' padding waste, and a named winner
   with a significant margin or the statement that there is none.
2. Per-group medians of a stream over fixed lengths (32; 128; 512) agree within 5% with separate
   static-shape runs (``bench --shape``, a fresh static compile each) of the same lengths. They
   alternate over ``--rounds`` and are compared by paired per-round ratios, so drift cancels. A
   stream of one length alone on the dynamic engine separates the cost of switching shapes from
   the cost of compiling dynamic.

    python benchmarks/dynamic_check.py [--stream 100] [--rounds 3] [--part both|range|agree] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
from _common import reexec_on_snapshot
from scipy import stats

from inferperf import api
from inferperf.config import RunLimits
from inferperf.measure.dynamic import DynamicOptions
from inferperf.results.schema import save_json

MODEL = "zoo:bert_base:dynamic"
LENGTHS = (32, 128, 512)
TOLERANCE = 0.05


def part_range(args: argparse.Namespace) -> dict[str, Any]:
    doc = api.dynamic(
        MODEL,
        "input_ids[1,16..512]",
        backend=args.backend,
        options=DynamicOptions(stream=args.stream, rounds=args.rounds, seed=args.seed),
    )
    print(f"\n== {MODEL}, input_ids[1,16..512] uniform, {args.stream} inputs, {args.rounds} interleaved passes")
    for rec in doc["strategies"]:
        if rec["status"] != "ok":
            print(f"{rec['name']:8s} FAILED {rec['error']}")
            continue
        t, m = rec["throughput"], rec["latency_ms"]["median"]
        fs = rec["first_sight"]
        print(
            f"{rec['name']:8s} {t['value']:6.2f} inputs/s [{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}]  "
            f"median {m['value']:7.1f} ms  compile {rec['compile_ms']:7.0f} ms  "
            f"RSS+ {rec['memory_added_mb'] or 0:6.0f} MB  padding waste {rec['padding_waste'] * 100:4.1f}%  "
            f"first sight {fs['new_shapes']} x{fs['median_ratio'] or 0:.2f}"
        )
        for g in rec["groups"]:
            gm = g["latency_ms"]["median"]
            ci = f"[{gm['ci95'][0]:.1f}, {gm['ci95'][1]:.1f}]"
            print(f"    {g['group']:22s} n={g['inputs']:3d}  median {gm['value']:7.1f} {ci} ms")
    for rival in doc["comparison"]["vs"]:
        print(
            f"  {doc['comparison']['fastest']} / {rival['name']}: x{rival['ratio']:.3f} {rival['ci95']} "
            f"{'significant' if rival['significant'] else 'not significant'}"
        )
    print("verdict:", doc["comparison"]["verdict"])
    return doc


def _static_shape(length: int) -> str:
    return ",".join(f"{n}[1,{length}]" for n in ("input_ids", "attention_mask", "token_type_ids"))


def _median_of(doc: dict[str, Any], name: str) -> dict[int, float]:
    rec = next(r for r in doc["strategies"] if r["name"] == name)
    return {int(g["group"].rsplit(",", 1)[1].rstrip("]")): g["latency_ms"]["median"]["value"] for g in rec["groups"]}


def _static_median(args: argparse.Namespace, length: int) -> float:
    res = api.bench(
        MODEL,
        backends=[args.backend],
        mode="latency",
        shape=_static_shape(length),
        limits=RunLimits(time_s=args.static_seconds, warmup_s=1.0),
    )
    return float(res.runs[0].latency_ms["median"]["value"])


def part_agree(args: argparse.Namespace) -> dict[str, Any]:
    """Per round: the mixed stream over fixed lengths (dynamic engine and static bucket engines, per-input
    interleaved); per length a stream of that length alone on the dynamic engine (no shape switches); and a
    separate static-shape bench run per length. All in this process; ratios are paired per round."""
    mixed = ";".join(f"input_ids[1,{n}]" for n in LENGTHS)
    series: dict[str, dict[int, list[float]]] = {k: {} for k in ("dynamic", "buckets", "dynamic_fixed", "static")}
    for r in range(args.rounds):
        opts = DynamicOptions(strategies=("dynamic", "buckets"), stream=args.agree_stream, rounds=1, seed=r)
        doc = api.dynamic(MODEL, mixed, backend=args.backend, options=opts)
        found = {"dynamic": _median_of(doc, "dynamic"), "buckets": _median_of(doc, "buckets")}
        found["dynamic_fixed"], found["static"] = {}, {}
        for length in LENGTHS:
            fixed_opts = DynamicOptions(strategies=("dynamic",), stream=args.fixed_stream, rounds=1, seed=r)
            fixed = api.dynamic(MODEL, f"input_ids[1,{length}]", backend=args.backend, options=fixed_opts)
            found["dynamic_fixed"][length] = _median_of(fixed, "dynamic")[length]
            found["static"][length] = _static_median(args, length)
        for key, per in found.items():
            for length, value in per.items():
                series[key].setdefault(length, []).append(value)
        text = "; ".join(f"{k} " + ", ".join(f"{n}:{v:.1f}" for n, v in d.items()) for k, d in found.items())
        print(f"round {r + 1}: {text}", flush=True)
    return _agree_summary(args, series)


def _agree_summary(args: argparse.Namespace, series: dict[str, dict[int, list[float]]]) -> dict[str, Any]:
    print(
        f"\n== {args.rounds} paired rounds: median of the per-round ratios (robust to a round that hit a slow "
        "phase of the machine), and the geometric mean with its t-interval"
    )
    rows = []
    ok = True
    pairs = [("dynamic", "static"), ("buckets", "static"), ("dynamic_fixed", "static"), ("dynamic", "dynamic_fixed")]
    for num, den in pairs:
        for length in LENGTHS:
            per = np.asarray(series[num][length]) / np.asarray(series[den][length])
            logs = np.log(per)
            center = float(np.exp(logs.mean()))
            spread = logs.std(ddof=1) / np.sqrt(len(logs)) if len(logs) > 1 else 0.0
            half = float(stats.t.ppf(0.975, len(logs) - 1) * spread) if len(logs) > 1 else 0.0
            lo, hi = center * np.exp(-half), center * np.exp(half)
            med = float(np.median(per))
            good = abs(med - 1) <= TOLERANCE
            if den == "static" and num != "dynamic_fixed":
                ok = ok and good
            rows.append(
                {
                    "ratio": f"{num}/{den}",
                    "length": length,
                    "median_ratio": med,
                    "geomean_ratio": center,
                    "ci95": [lo, hi],
                    "per_round": per.tolist(),
                }
            )
            print(
                f"  {num + '/' + den:22s} seq {length:3d}: median {med:.3f}, geomean {center:.3f} "
                f"[{lo:.3f}, {hi:.3f}]  {'within' if good else 'OUTSIDE'} 5%"
            )
    print("stream per-group medians (dynamic and buckets) within 5% of static runs:", "PASS" if ok else "FAIL")
    return {"rows": rows, "pass": ok, "series": series}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream", type=int, default=100)
    parser.add_argument("--agree-stream", type=int, default=30)
    parser.add_argument("--fixed-stream", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--static-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--part", choices=("both", "range", "agree"), default="both")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.part in ("both", "range"):
        out["range"] = part_range(args)
    if args.part in ("both", "agree"):
        out["agree"] = part_agree(args)
    if args.json:
        save_json(out, args.json)
    return 0


if __name__ == "__main__":
    reexec_on_snapshot()
    sys.exit(main())
