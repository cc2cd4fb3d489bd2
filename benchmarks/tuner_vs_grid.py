"""Tuner against an exhaustive grid over the same space: quality of the pick and time spent.

    python benchmarks/tuner_vs_grid.py --model builtin --variants /tmp/builtin-int8.onnx \
        --backends openvino,onnxruntime --budget 240

1. ``Tuner`` with the given budget (short trials, re-measure, interleaved verification);
2. every configuration of the same space measured with the same short-trial length;
3. the tuner's pick and the grid's best measured side by side, interleaved, in one worker.
Prints the time ratio (tuner / grid) and the throughput ratio (tuner's pick / grid's best) with a 95% interval.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import reexec_on_snapshot

reexec_on_snapshot()

from inferperf.backends import get_backend  # noqa: E402
from inferperf.commands.tune import build_targets  # noqa: E402
from inferperf.config import RuntimeConfig, TuneOptions  # noqa: E402
from inferperf.measure.environment import collect_environment  # noqa: E402
from inferperf.measure.trials import TrialInputs  # noqa: E402
from inferperf.measure.worker import run_worker  # noqa: E402
from inferperf.model import load_model_info  # noqa: E402
from inferperf.optimize.tuner import Target, TrialRunner, Tuner, grid, ranked  # noqa: E402
from inferperf.stats import paired_ratio_ci  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="builtin")
    ap.add_argument("--variants", default="")
    ap.add_argument("--backends", default="openvino")
    ap.add_argument("--budget", type=float, default=240.0)
    ap.add_argument("--trial-time", type=float, default=1.5)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--round-time", type=float, default=3.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    plugins = [get_backend(b) for b in args.backends.split(",")]
    infos = [("model", load_model_info(args.model))]
    infos += [(Path(v).stem, load_model_info(v)) for v in args.variants.split(",") if v]
    cpu = collect_environment()["cpu"]
    targets, skipped = build_targets(plugins, infos, "throughput", int(cpu["cores"]), cpu["features"])
    ref0 = targets[0]
    reference = Target(ref0.backend, ref0.variant, ref0.info, (), name="reference")
    options = TuneOptions(budget_s=args.budget, trial_s=args.trial_time)
    inputs: TrialInputs = {"shape": None, "inputs": None, "int_range": None, "input_values": None, "seed": 0}
    print(f"space: {sum(t.size() for t in targets)} configurations over {[t.key for t in targets]}; skipped {skipped}")

    t0 = time.perf_counter()
    tuning = Tuner(targets, reference, TrialRunner(RuntimeConfig(), options, "throughput", inputs)).run()
    tuner_s = time.perf_counter() - t0
    rec = tuning.recommendation
    assert rec is not None, "tuner recommended nothing"
    print(f"tuner: {len(tuning.records)} trials, {tuner_s:.0f} s; pick {rec['target']} {rec['params']}")

    runner = TrialRunner(RuntimeConfig(), options, "throughput", inputs)
    t0 = time.perf_counter()
    for i, (target, params) in enumerate(grid(targets)):
        r = runner.run(target, params, 0, args.trial_time)
        fps = r.throughput["value"] if r.throughput else float("nan")
        print(f"  grid {i + 1}: {target.key} {params} -> {fps:.1f} fps {r.status}", flush=True)
    grid_s = time.perf_counter() - t0
    best = ranked(runner.records, "throughput")[0]
    print(f"grid: {len(runner.records)} trials, {grid_s:.0f} s; best {best.target} {best.params}")

    by_key = {t.key: t for t in [*targets, reference]}
    cands = []
    for target_key, config in ((rec["target"], rec["runtime"]), (best.target, best.config)):
        t = by_key[target_key]
        cfg = {k: v for k, v in config.items() if k != "effective"}
        cands.append({"backend": t.backend, "model_info": t.info.to_dict(), "config": cfg})
    job = {
        "task": "interleave",
        "scenario": "throughput",
        "rounds": args.rounds,
        "seconds": args.round_time,
        "inputs": inputs,
        "candidates": cands,
    }
    res = run_worker(job, 1800)
    assert res.ok, res.error
    tput = [c["throughput_fps_per_round"] for c in res.data["candidates"]]
    ci = paired_ratio_ci(tput[0], tput[1])
    print(
        f"side by side, {args.rounds} rounds x {args.round_time:g} s: tuner pick / grid best = "
        f"{ci.value:.3f} [{ci.low:.3f}, {ci.high:.3f}]  (goal >= 0.95)"
    )
    print(f"time: tuner {tuner_s:.0f} s / grid {grid_s:.0f} s = {tuner_s / grid_s:.2f}  (goal <= 0.33)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "tuner_s": tuner_s,
                    "grid_s": grid_s,
                    "ratio": [ci.value, ci.low, ci.high],
                    "tuner": tuning.to_dict(),
                    "grid": [r.to_dict() for r in runner.records],
                    "final": res.data,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
