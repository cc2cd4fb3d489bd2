"""Serving under load (issue 25's done criteria) on a generative model folder, e.g. build/llm-0.36b.

Prints, all through OpenVINO GenAI's continuous-batching pipeline:

* a concurrency sweep and an arrival-rate sweep with goodput and SLO attainment under the stated SLOs;
* ``--find-peak`` with continuous batching (max 64 sequences) and one request at a time (max 1
  sequence), under the same p99 TTFT and TPOT bounds, each confirmed by a run twice as long; the ratio
  of their output tokens/s at the peak, with the interval the two bisection brackets leave.

    python benchmarks/serving_check.py build/llm-0.36b [--ttft-max 4000] [--tpot-max 400] [--new-tokens 32]

Build the model first: scripts/make_tiny_llm.py --preset qwen2.5-0.5b-stack --out build/llm-0.36b
(in the export venv the script's docstring describes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from inferperf import api


def _levels(doc: dict[str, Any]) -> None:
    for level in doc["levels"]:
        overload = (level.get("overload") or {}).get("verdict", "")
        print(
            f"  {level['load']['label']:>16}: TTFT p50/p99 {level['ttft_ms']['median']['value']:7.0f} / "
            f"{level['ttft_ms']['p99']['value']:7.0f} ms, TPOT p99 {level['tpot_ms']['p99']['value']:6.1f} ms, "
            f"{level['output_tokens_per_s']:6.1f} tok/s, {level['requests_per_s']:.3f} req/s, SLO met "
            f"{level['slo']['attainment'] * 100:3.0f}%, goodput {level['slo']['goodput_requests_per_s']:.3f} req/s"
            + (f"  [{overload}]" if overload else ""),
            flush=True,
        )


def _peak(model: str, opts: api.ServeOptions, label: str) -> dict[str, Any]:
    doc = api.serve(model, options=opts, find_peak=True)
    peak = doc["peak"]
    rate = peak.get("confirmed_rate")
    # The bracket of the confirmed rate: it held a long run; the lowest rate above it that failed (in the
    # bisection or a confirming run) did not, else the closed-loop capacity bounds it.
    failed = [t["rate"] for t in [*peak["trials"], *(peak.get("confirm_attempts") or [])] if not t["met"]]
    above = [r for r in failed if rate is not None and r > rate]
    bracket = (rate, min(above) if above else peak["capacity_requests_per_s"])
    confirm = peak.get("confirm") or {}
    tries = [f"{a['rate']:.3f}{'+' if a['met'] else '-'}" for a in peak.get("confirm_attempts") or []]
    print(
        f"  {label}: capacity {peak['capacity_requests_per_s']:.3f} req/s; bisection {peak['rate']} req/s; "
        f"confirming runs {', '.join(tries) or 'none'}; confirmed rate {rate} (bracket up to {bracket[1]:.3f}), "
        f"{confirm.get('output_tokens_per_s', float('nan')):.1f} tok/s in the confirming run",
        flush=True,
    )
    return {"peak": peak, "bracket": bracket, "tokens_per_s": confirm.get("output_tokens_per_s") if rate else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--ttft-max", type=float, default=4000.0, help="ms")
    parser.add_argument("--tpot-max", type=float, default=400.0, help="ms")
    parser.add_argument("--rates", default="0.1,0.3,0.6")
    parser.add_argument("--out", type=Path, default=Path("build/serving_check.json"))
    parser.add_argument("--peak-only", action="store_true", help="skip the sweeps: only the two peaks")
    args = parser.parse_args()
    base = {
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "requests": args.requests,
        "ttft_max_ms": args.ttft_max,
        "tpot_max_ms": args.tpot_max,
    }
    print(
        f"SLOs: TTFT p99 <= {args.ttft_max:g} ms, TPOT p99 <= {args.tpot_max:g} ms; {args.requests} requests per level"
    )
    conc = swept = None
    if not args.peak_only:
        print("concurrency sweep (continuous batching):", flush=True)
        loads = tuple(api.Load("concurrency", c) for c in (1, 2, 4, 8))
        conc = api.serve(args.model, options=api.ServeOptions(loads=loads, **base))
        _levels(conc)
        print("arrival-rate sweep (Poisson, seeded):", flush=True)
        rates = tuple(api.Load("rate", float(r)) for r in args.rates.split(","))
        swept = api.serve(args.model, options=api.ServeOptions(loads=rates, **base))
        _levels(swept)
    print("peak arrival rate meeting both p99 SLOs:", flush=True)
    batched = _peak(args.model, api.ServeOptions(loads=(), max_num_seqs=64, **base), "continuous batching (64 seqs)")
    single = _peak(args.model, api.ServeOptions(loads=(), max_num_seqs=1, **base), "one at a time (1 seq)")
    ratio = None
    if batched["tokens_per_s"] and single["tokens_per_s"] and batched["bracket"][0] and single["bracket"][0]:
        ratio = batched["tokens_per_s"] / single["tokens_per_s"]
        rates = batched["bracket"][0] / single["bracket"][0]
        lo = batched["bracket"][0] / single["bracket"][1]
        hi = batched["bracket"][1] / single["bracket"][0]
        print(
            f"continuous batching / one at a time under the same SLOs: confirmed arrival rate x{rates:.2f} (the "
            f"two brackets allow x{lo:.2f} - x{hi:.2f}); output tokens/s of the confirming runs x{ratio:.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"concurrency": conc, "rates": swept, "batched": batched, "single": single, "ratio": ratio})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
