"""Done criteria of dynamic-shape workloads (issue 13), on zoo:bert_base with an open sequence length.

1. Sequence lengths drawn uniformly from 16..512: per-group and overall results of every strategy
   (dynamic, buckets, largest, OpenVINO bounded), the buckets' padding waste, and a named winner
   with a significant margin or the statement that there is none.
2. Per-group medians of a stream over fixed lengths (32; 128; 512) agree within 5% with separate
   static-shape runs (``inferperf bench --shape``, fresh processes) of the same lengths. The two
   alternate over ``--rounds`` so the machine's drift hits both alike.

    python benchmarks/dynamic_check.py [--stream 100] [--rounds 3] [--part both|range|agree] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from _common import inferperf_bench, reexec_on_snapshot
from inferperf import api
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
            f"median {m['value']:7.1f} ms  compile {rec['compile_ms']:7.0f} ms  RSS+ {rec['memory_added_mb'] or 0:6.0f} MB  "
            f"padding waste {rec['padding_waste'] * 100:4.1f}%  first sight {fs['new_shapes']} x{fs['median_ratio'] or 0:.2f}"
        )
        for g in rec["groups"]:
            gm = g["latency_ms"]["median"]
            print(f"    {g['group']:22s} n={g['inputs']:3d}  median {gm['value']:7.1f} [{gm['ci95'][0]:.1f}, {gm['ci95'][1]:.1f}] ms")
    for rival in doc["comparison"]["vs"]:
        print(f"  {doc['comparison']['fastest']} / {rival['name']}: x{rival['ratio']:.3f} {rival['ci95']} "
              f"{'significant' if rival['significant'] else 'not significant'}")
    print("verdict:", doc["comparison"]["verdict"])
    return doc


def _static_shape(length: int) -> str:
    return ",".join(f"{n}[1,{length}]" for n in ("input_ids", "attention_mask", "token_type_ids"))


def part_agree(args: argparse.Namespace) -> dict[str, Any]:
    groups = ";".join(f"input_ids[1,{n}]" for n in LENGTHS)
    stream_medians: dict[str, dict[int, list[float]]] = {"dynamic": {}, "buckets": {}}
    static: dict[int, list[float]] = {}
    for r in range(args.rounds):
        doc = api.dynamic(
            MODEL,
            groups,
            backend=args.backend,
            options=DynamicOptions(strategies=("dynamic", "buckets"), stream=args.agree_stream, rounds=1, seed=r),
        )
        for rec in doc["strategies"]:
            for g in rec.get("groups", []):
                length = int(g["group"].rsplit(",", 1)[1].rstrip("]"))
                stream_medians[rec["name"]].setdefault(length, []).append(g["latency_ms"]["median"]["value"])
        for length in LENGTHS:
            res = inferperf_bench(
                MODEL,
                ["--backend", args.backend, "--mode", "latency", "--shape", _static_shape(length),
                 "--time", str(args.static_seconds), "--warmup", "1"],
            )
            static.setdefault(length, []).append(res["runs"][0]["latency_ms"]["median"]["value"])
        print(f"round {r + 1}: stream", {k: {n: round(v[-1], 1) for n, v in d.items()} for k, d in stream_medians.items()},
              "static", {n: round(v[-1], 1) for n, v in static.items()})
    rows = []
    ok = True
    print(f"\n== per-group medians vs separate static-shape runs ({args.rounds} alternating rounds, mean of round medians)")
    for name, per in stream_medians.items():
        for length in LENGTHS:
            a, b = float(np.mean(per[length])), float(np.mean(static[length]))
            ratio = a / b
            good = abs(ratio - 1) <= TOLERANCE
            ok = ok and (good or name == "dynamic")
            rows.append({"strategy": name, "length": length, "stream_ms": a, "static_ms": b, "ratio": ratio})
            print(f"  {name:8s} seq {length:3d}: stream {a:7.2f} ms, static bench {b:7.2f} ms, ratio {ratio:.3f} "
                  f"{'within' if good else 'OUTSIDE'} 5%")
    print("buckets (static engines inside the stream) within 5% of static runs:", "PASS" if ok else "FAIL")
    return {"rows": rows, "pass": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream", type=int, default=100)
    parser.add_argument("--agree-stream", type=int, default=45)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--static-seconds", type=float, default=6.0)
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
