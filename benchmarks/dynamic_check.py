"""Done criteria of dynamic-shape workloads (issue 13), on zoo:bert_base with an open sequence length.

1. Sequence lengths drawn uniformly from 16..512: per-group and overall results of every strategy
   (dynamic, buckets, largest, OpenVINO bounded), the buckets' padding waste, and a named winner
   with a significant margin or the statement that there is none.
2. Per-group medians of a stream over fixed lengths (32; 128; 512) agree within 5% with separate
   static-shape runs of the same lengths: separately compiled engines fed one length only, timed like
   the stream. Runs even seconds apart differ by up to 1.7x on this machine, so each stream input
   is followed by one inference of each separate engine at its length (rotating order), over
   ``--rounds`` passes. The sharp estimate is the median of the per-input ratios (a pair shares the
   machine's phase); the ratio of pooled medians is printed beside it. Intervals: whole rounds resampled.
   ``bench --shape`` runs before and after are printed for reference. Separate engines with the
   stream's open dims, fed one length only, split the cost of dynamic kernels from that of switching.

    python benchmarks/dynamic_check.py [--stream 100] [--rounds 3] [--part both|range|agree] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from _common import reexec_on_snapshot

from inferperf import api
from inferperf.backends import get_backend
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.inputs.distribution import draw_stream, resolve_shapes_option
from inferperf.measure.dynamic import (
    DynamicOptions,
    Live,
    Plan,
    _driver,
    close_live,
    compile_plan,
    plan_strategy,
    stream_inputs,
    warm_pass,
)
from inferperf.model import load_model_info
from inferperf.results.schema import save_json

MODEL = "zoo:bert_base:dynamic"
LENGTHS = (32, 128, 512)
TOLERANCE = 0.05
SERIES = ("stream/dynamic", "stream/buckets", "static", "dynamic alone")


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


def _bench_median(args: argparse.Namespace, length: int) -> float:
    """A whole ``bench --shape`` run (fresh static compile, warm-up, steady state): the reference as a user runs it."""
    res = api.bench(
        MODEL,
        backends=[args.backend],
        mode="latency",
        shape=_static_shape(length),
        limits=RunLimits(time_s=args.static_seconds, warmup_s=1.0),
    )
    return float(res.runs[0].latency_ms["median"]["value"])


class _Agree:
    """Every engine of the comparison compiled once, then measured input by input, side by side.

    - ``stream/dynamic`` and ``stream/buckets``: the tool's own dynamic-workload code (plans, drivers) on
      a mixed stream over LENGTHS, as ``inferperf dynamic`` runs it; the dynamic engine switches shapes.
    - ``static``: per length a separately compiled static-shape engine, fed that length only.
    - ``dynamic alone``: per length a separately compiled engine with the same open dims as the stream's
      dynamic engine, fed that length only (it never switches shape).

    All four are timed the same way (the tool's driver: a persistent request, submit to completion),
    on the same input data. An earlier version timed the separate engines with bench's loop, which
    opens a fresh request per call: in a slow phase they came out 8% slower at 32 tokens than the
    stream (not in a quiet one), so the method differed, not only the feed.

    This machine's speed swings by up to 1.7x between 5-second windows, so runs even seconds apart
    cannot be compared within 5%: every stream input is followed, in rotating order, by one inference
    of each separate engine at its length, and the pairs are compared.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.plugin = get_backend(args.backend)
        self.info = load_model_info(MODEL)
        self.config = self.plugin.configure(RuntimeConfig(), "latency").with_(backend=self.plugin.name)
        mixed = ";".join(f"input_ids[1,{n}]" for n in LENGTHS)
        groups, _ = resolve_shapes_option(self.info, mixed)
        self.items = draw_stream(groups, args.agree_stream, args.seed)
        self.lengths = [it.shapes["input_ids"][1] for it in self.items]
        inputs = stream_inputs(self.info, self.items, args.seed, None)
        plans = [plan_strategy(n, self.items, groups) for n in ("dynamic", "buckets")]
        self.lives = [compile_plan(self.plugin, self.info, plan, inputs, self.config) for plan in plans]
        for live in self.lives:
            warm_pass(live, 1)
        open_dims = plans[0].engines[0]
        self.pos: dict[int, int] = {}
        self.static: dict[int, Live] = {}
        self.alone: dict[int, Live] = {}
        for length in LENGTHS:
            idx = [i for i, n in enumerate(self.lengths) if n == length]
            self.pos.update({i: j for j, i in enumerate(idx)})
            shapes = {s.name: (1, length) for s in self.info.inputs}
            own = [inputs[i] for i in idx]
            for store, dims in ((self.static, shapes), (self.alone, open_dims)):
                plan = Plan(f"{length}", [dict(dims)], [0] * len(idx), [shapes] * len(idx))
                store[length] = compile_plan(self.plugin, self.info, plan, own, self.config)
                warm_pass(store[length], 1)
        self.samples: dict[str, dict[int, list[list[float]]]] = {k: {n: [] for n in LENGTHS} for k in SERIES}

    def _measure(self, key: str, i: int) -> list[float]:
        if key == "stream/dynamic":
            return [_driver(self.lives[0], 1).run_one(i)]
        if key == "stream/buckets":
            return [_driver(self.lives[1], 1).run_one(i)]
        live = (self.static if key == "static" else self.alone)[self.lengths[i]]
        return [_driver(live, 1).run_one(self.pos[i])]

    def round(self, r: int) -> None:
        for length in LENGTHS:
            for key in SERIES:
                self.samples[key][length].append([])
        for i, length in enumerate(self.lengths):
            for k in range(len(SERIES)):
                key = SERIES[(k + i + r) % len(SERIES)]
                self.samples[key][length][-1].extend(self._measure(key, i))

    def close(self) -> None:
        for live in [*self.lives, *self.static.values(), *self.alone.values()]:
            close_live(live)


def _pooled_median(per_round: list[list[float]], idx: np.ndarray) -> float:
    return float(np.median([x for i in idx for x in per_round[i]]))


def _ratio(num: list[list[float]], den: list[list[float]], rng: np.random.Generator) -> dict[str, Any]:
    """Ratio of pooled medians, with a 95% interval from resampling whole rounds (drift is shared within one)."""
    n = len(num)
    everything = np.arange(n)
    value = _pooled_median(num, everything) / _pooled_median(den, everything)
    boot = []
    for _ in range(2000):
        idx = rng.integers(0, n, n)
        boot.append(_pooled_median(num, idx) / _pooled_median(den, idx))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"ratio": value, "ci95": [float(lo), float(hi)]}


def part_agree(args: argparse.Namespace) -> dict[str, Any]:
    """Per-group medians of the mixed stream against separate static-shape runs of the same lengths."""
    reference = {"before": {n: _bench_median(args, n) for n in LENGTHS}}
    print("bench --shape medians before:", reference["before"], flush=True)
    agree = _Agree(args)
    try:
        for r in range(args.rounds):
            agree.round(r)
            last = {k: {n: float(np.median(v[n][-1])) for n in LENGTHS} for k, v in agree.samples.items()}
            text = "; ".join(f"{k} " + ", ".join(f"{n}:{v:.1f}" for n, v in d.items()) for k, d in last.items())
            print(f"round {r + 1}: {text}", flush=True)
    finally:
        agree.close()
    reference["after"] = {n: _bench_median(args, n) for n in LENGTHS}
    print("bench --shape medians after:", reference["after"], flush=True)
    return _agree_summary(args, agree.samples, reference)


def _per_input(values: list[float], inputs: int) -> np.ndarray:
    """One value per stream input: a separate engine's run gives k latencies per input; their mean."""
    arr = np.asarray(values, dtype=float)
    return arr.reshape(inputs, -1).mean(axis=1)


def _paired(num: list[list[float]], den: list[list[float]], rng: np.random.Generator) -> dict[str, Any]:
    """Median of the per-input ratios (each pair measured within about a second), 95% interval from
    resampling whole rounds. The machine's fast and slow phases make pooled medians jump between modes;
    a pair almost always shares its phase, so the paired ratio is the sharp estimate."""
    rounds = []
    for a, b in zip(num, den, strict=True):
        n = min(len(a), len(b))
        inputs = n if len(a) % n == 0 and len(b) % n == 0 else 0
        if inputs == 0:
            raise ValueError("series of one round do not have whole multiples of the inputs")
        rounds.append(_per_input(a, inputs) / _per_input(b, inputs))
    value = float(np.median(np.concatenate(rounds)))
    boot = []
    for _ in range(2000):
        idx = rng.integers(0, len(rounds), len(rounds))
        boot.append(float(np.median(np.concatenate([rounds[i] for i in idx]))))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"ratio": value, "ci95": [float(lo), float(hi)], "pairs": int(sum(len(r) for r in rounds))}


PAIRS = (
    ("stream/buckets", "static"),
    ("stream/dynamic", "dynamic alone"),
    ("stream/dynamic", "static"),
    ("dynamic alone", "static"),
)


def _agree_summary(
    args: argparse.Namespace, samples: dict[str, dict[int, list[list[float]]]], reference: dict[str, Any]
) -> dict[str, Any]:
    rng = np.random.default_rng(12345)
    rounds = len(samples["static"][LENGTHS[0]])
    rows = []
    print(
        f"\n== {rounds} rounds. Paired: median of per-input ratios. Pooled: ratio of pooled medians. "
        "95% intervals from resampling whole rounds."
    )
    for num, den in PAIRS:
        for length in LENGTHS:
            paired = _paired(samples[num][length], samples[den][length], rng)
            pooled = _ratio(samples[num][length], samples[den][length], rng)
            lo, hi = paired["ci95"]
            row = {
                "ratio": f"{num} / {den}",
                "length": length,
                "paired": paired,
                "pooled": pooled,
                "within_5pct": abs(paired["ratio"] - 1) <= TOLERANCE,
                "interval_within_5pct": lo >= 1 - TOLERANCE and hi <= 1 + TOLERANCE,
            }
            rows.append(row)
            verdict = (
                "interval within 5%"
                if row["interval_within_5pct"]
                else ("within 5%, interval not" if row["within_5pct"] else "OUTSIDE 5%")
            )
            print(
                f"  {num + ' / ' + den:30s} seq {length:3d}: paired x{paired['ratio']:.3f} [{lo:.3f}, {hi:.3f}] "
                f"({paired['pairs']} pairs) {verdict:24s} pooled x{pooled['ratio']:.3f} "
                f"[{pooled['ci95'][0]:.3f}, {pooled['ci95'][1]:.3f}]"
            )
    medians = {k: {n: _pooled_median(v[n], np.arange(len(v[n]))) for n in LENGTHS} for k, v in samples.items()}
    for k, d in medians.items():
        print(f"  pooled median {k:15s} " + ", ".join(f"{n}: {v:.1f} ms" for n, v in d.items()))
    same = [r for r in rows if r["ratio"] == "stream/buckets / static"]
    ok = all(r["interval_within_5pct"] for r in same)
    print(
        "the measurement: static engines inside the mixed stream vs the same engines alone, paired, interval "
        "within 5%:",
        "PASS" if ok else "FAIL",
    )
    for name, what in (
        ("stream/dynamic / dynamic alone", "the dynamic engine, shape switching in the stream"),
        ("stream/dynamic / static", "the dynamic strategy against static-shape runs (switching + dynamic kernels)"),
    ):
        picked = [r for r in rows if r["ratio"] == name]
        print(f"{what}: " + ", ".join(f"{r['length']}: x{r['paired']['ratio']:.3f}" for r in picked))
    return {
        "rows": rows,
        "pooled_medians": medians,
        "bench_reference": reference,
        "pass": ok,
        "samples": samples,
        "rounds": rounds,
        "stream": args.agree_stream,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream", type=int, default=100)
    parser.add_argument("--agree-stream", type=int, default=12, help="mixed-stream inputs per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--static-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--part", choices=("both", "range", "agree"), default="both")
    parser.add_argument("--json", default=None)
    parser.add_argument("--summarize", default=None, help="re-summarize the agree part of a saved --json")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.summarize:
        saved = json.loads(Path(args.summarize).read_text())["agree"]
        samples = {k: {int(n): v for n, v in per.items()} for k, per in saved["samples"].items()}
        args.agree_stream = saved.get("stream", args.agree_stream)
        _agree_summary(args, samples, saved.get("bench_reference", {}))
        return 0
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
