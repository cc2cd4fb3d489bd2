"""INT8 against FP32 on zoo:bert_base, static shapes against open dims, per sequence length.

``quantize --shapes`` measures FP32 and INT8 each on one engine with the sequence dim open. This
script asks whether the INT8 speed-up it finds depends on that: for each length, four engines
(FP32 and INT8, each compiled static at that length and with open dims) are fed the same inputs, one
request at a time, each input on all four back to back in rotating order, over ``--rounds`` passes.
Printed per length: the INT8 speed-up static and with open dims (median of per-input ratios,
interval from resampled rounds), and what opening the dims costs each precision.

    python benchmarks/int8_shapes_check.py [--int8 model-int8.xml] [--lengths 32,128,512] [--inputs 12]
        [--rounds 4] [--json out.json]

Without ``--int8`` the INT8 IR is made here, as ``quantize --shapes 'input_ids[1,16..512]'`` does.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _common import reexec_on_snapshot

from inferperf.backends import get_backend
from inferperf.config import QuantizeOptions, RuntimeConfig
from inferperf.measure.dynamic import (
    Live,
    Plan,
    close_live,
    compile_plan,
    plan_stream,
    round_per_input,
    stream_inputs,
    warm_pass,
)
from inferperf.model import load_model_info
from inferperf.model.info import ModelInfo
from inferperf.optimize.quantize import stream_split

RANGE = "input_ids[1,16..512]"


def make_int8(info: ModelInfo, out: Path) -> ModelInfo:
    split = stream_split(info, RANGE, calibration=64, held_out=2)
    opts = QuantizeOptions(transformer=True, accuracy_control=False)
    made = get_backend("openvino").quantize(info, split.calibration, out, opts)
    return load_model_info(made[0][0])


def per_length(fp32: ModelInfo, int8: ModelInfo, length: int, n: int, rounds: int) -> dict[str, Any]:
    backend = get_backend("openvino")
    config = backend.configure(RuntimeConfig(backend="openvino"), "latency")
    stream = plan_stream(fp32, f"input_ids[1,{length}]", stream=n, seed=length)
    open_dims = plan_stream(fp32, RANGE, stream=2, seed=0).ranges
    static = {name: tuple(int(d) for d in shape) for name, shape in stream.largest.items()}
    inputs = stream_inputs(fp32, stream.items, length, None)
    feeds = [dict(it.shapes) for it in stream.items]
    lives: list[Live] = []
    records: dict[str, dict[str, Any]] = {}
    try:
        for name, model, ranges in (
            ("fp32 static", fp32, static),
            ("int8 static", int8, static),
            ("fp32 open", fp32, open_dims),
            ("int8 open", int8, open_dims),
        ):
            plan = Plan(name, [dict(ranges)], [0] * n, feeds)  # type: ignore[arg-type]
            live = compile_plan(backend, model, plan, inputs, config)
            lives.append(live)
            warm_pass(live, 1)
        for r in range(rounds):
            round_per_input(lives, r, records)
        if records:
            raise SystemExit(f"failed: {records}")
        lat = {lv.plan.name: np.array([rd["latency_ms"] for rd in lv.rounds]) for lv in lives}  # [round, input]
    finally:
        for live in lives:
            close_live(live)
    return {
        "length": length,
        "median_ms": {k: float(np.median(v)) for k, v in lat.items()},
        "int8_speedup_static": _ratio(lat["fp32 static"], lat["int8 static"]),
        "int8_speedup_open": _ratio(lat["fp32 open"], lat["int8 open"]),
        "open_cost_fp32": _ratio(lat["fp32 open"], lat["fp32 static"]),
        "open_cost_int8": _ratio(lat["int8 open"], lat["int8 static"]),
    }


def _ratio(num: np.ndarray, den: np.ndarray) -> dict[str, Any]:
    """Median of per-input ratios num/den; 95% interval by resampling whole rounds."""
    ratios = num / den
    rng = np.random.default_rng(0)
    boot = [float(np.median(ratios[rng.integers(0, len(ratios), len(ratios))])) for _ in range(2000)]
    low, high = (float(np.percentile(boot, q)) for q in (2.5, 97.5))
    return {"value": float(np.median(ratios)), "ci95": [low, high]}


def main() -> None:
    reexec_on_snapshot()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--int8", type=Path, default=None)
    ap.add_argument("--lengths", default="32,128,512")
    ap.add_argument("--inputs", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    fp32 = load_model_info("zoo:bert_base:dynamic")
    with tempfile.TemporaryDirectory(prefix="int8-shapes-") as tmp:
        int8 = load_model_info(args.int8) if args.int8 else make_int8(fp32, Path(tmp))
        rows = []
        for length in (int(x) for x in args.lengths.split(",")):
            row = per_length(fp32, int8, length, args.inputs, args.rounds)
            rows.append(row)
            med = row["median_ms"]

            def f(key: str, row: dict[str, Any] = row) -> str:
                v = row[key]
                return f"x{v['value']:.3f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"

            print(
                f"{length:4d} tokens: FP32 {med['fp32 static']:.1f}/{med['fp32 open']:.1f} ms, "
                f"INT8 {med['int8 static']:.1f}/{med['int8 open']:.1f} ms (static/open); "
                f"INT8 speed-up static {f('int8_speedup_static')}, open {f('int8_speedup_open')}; "
                f"open dims cost FP32 {f('open_cost_fp32')}, INT8 {f('open_cost_int8')}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
