"""Do inferperf's generate figures agree with the runtime's own, and do the two runtimes compute the same model?

On the built-in tiny Llama (or MODEL): ``inferperf generate`` with OpenVINO GenAI (and transformers when
the torch extra is installed), per prompt length:

- inferperf's TTFT and TPOT over OpenVINO GenAI's own PerfMetrics of the same requests (median of the
  per-request ratios; goal 0.97-1.03): ours runs from the generate call to the streamer callback, the
  pipeline's from inside the call, so on a sub-millisecond prefill the call overhead shows;
- OpenVINO GenAI vs transformers at f32 on the same prompts: next-token logit cosine after the prefill
  and greedy-token agreement.

With ``--kv-tokens N``: the KV cache's growth per 1k tokens, measured (RSS slope over one request of N
new tokens, ``generate --memory-tokens``) in a fresh process per precision the cache is set to (u8, f16,
f32) and for the pipeline's default, against 2 x layers x kv_heads x head_dim x bytes (goal: within 15%);
and the differences between precisions, measured vs theory: what grows with the context but not with the
cache's precision (allocator slack, other buffers) cancels there.
Weight compression: ``inferperf llm-compress`` (its own figures).

    python benchmarks/genai_check.py [MODEL] [--prompt-tokens 128,512,2048] [--new-tokens 64] [--time 10]
                                     [--kv-tokens 1200]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from typing import Any

from _common import reexec_on_snapshot

GOAL = (0.97, 1.03)


def kv_growth(model: str, precision: str, tokens: int) -> dict[str, Any]:
    """One fresh process: load with the cache at ``precision`` ("default": not set), trace one request."""
    from inferperf.backends.generative import get_generative, rss_reader
    from inferperf.commands.generate import _model_doc
    from inferperf.measure.llm_memory import memory_profile
    from inferperf.model.zoo import llm_folder

    folder, builtin = llm_folder(model)
    rss = rss_reader()
    before = rss()
    pipe = get_generative("openvino-genai", folder, kv_cache=None if precision == "default" else precision)
    arch = _model_doc(folder, builtin)["architecture"]
    memory = memory_profile(pipe, arch, lambda n: list(range(4, 4 + n)), (before, rss()), tokens)
    return dict(memory["kv_cache"])


def kv_report(model: str, tokens: int) -> bool:
    found = {}
    for precision in ("u8", "f16", "f32", "default"):
        cmd = [sys.executable, __file__, model, "--kv-child", precision, "--kv-tokens", str(tokens)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        found[precision] = json.loads(out.strip().splitlines()[-1])
    ok = True
    print(f"KV cache over {tokens} new tokens (RSS slope, last 3/4), MiB per 1k tokens:")
    for precision, kv in found.items():
        measured, theory = kv["measured"]["mib_per_1k_tokens"], kv["theory"]
        ratio = measured / theory["mib_per_1k_tokens"]
        if precision != "default":
            ok &= abs(ratio - 1) <= 0.15
        extra = f"; likeliest {theory.get('likeliest_precision')}" if precision == "default" else ""
        print(
            f"  {precision:8s} measured {measured:7.2f}  theory {theory['mib_per_1k_tokens']:7.2f} "
            f"({theory['precision']}, {theory['precision_source']})  x{ratio:.2f}{extra}"
        )
    for hi, lo in (("f32", "u8"), ("f32", "f16"), ("f16", "u8")):
        dm = found[hi]["measured"]["mib_per_1k_tokens"] - found[lo]["measured"]["mib_per_1k_tokens"]
        dt = found[hi]["theory"]["mib_per_1k_tokens"] - found[lo]["theory"]["mib_per_1k_tokens"]
        print(f"  {hi} - {lo}: measured {dm:6.2f}  theory {dt:6.2f}  x{dm / dt:.2f}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="builtin")
    parser.add_argument("--prompt-tokens", default="128,512,2048")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--time", type=float, default=10.0, help="seconds of requests per prompt length")
    parser.add_argument("--kv-tokens", type=int, default=None, help="also the KV cache's growth over N tokens")
    parser.add_argument("--kv-only", action="store_true", help="only the KV cache's growth")
    parser.add_argument("--kv-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kv_child:
        print(json.dumps(kv_growth(args.model, args.kv_child, args.kv_tokens)))
        return
    reexec_on_snapshot()
    if args.kv_only:
        kv_report(args.model, args.kv_tokens or 1200)
        return
    from inferperf import api

    backends = ["openvino-genai"] + (["transformers"] * bool(importlib.util.find_spec("transformers")))
    opts = api.GenerateOptions(
        prompt_tokens=tuple(int(n) for n in args.prompt_tokens.split(",")),
        new_tokens=args.new_tokens,
        time_s=args.time,
    )
    doc = api.generate(args.model, backends=backends, options=opts)
    print(
        f"{'backend':15s} {'prompt':>6s} {'req':>4s} {'TTFT ms':>9s} {'TPOT ms':>8s} "
        f"{'TTFT/GenAI':>10s} {'TPOT/GenAI':>10s}"
    )
    ok = True
    for result in doc["results"]:
        for level in result["levels"]:
            agree = level.get("pipeline_perf_metrics") or {}
            ratios = [agree.get(f"{k}_ms_ours_over_pipeline") for k in ("ttft", "tpot")]
            ok &= all(r is None or GOAL[0] <= r <= GOAL[1] for r in ratios)
            shown = [f"{r:10.3f}" if r is not None else f"{'-':>10s}" for r in ratios]
            print(
                f"{result['backend']:15s} {level['prompt_tokens']:6d} {level['requests']:4d} "
                f"{level['ttft_ms']['median']['value']:9.3f} {level['tpot_ms']['median']['value']:8.3f} "
                f"{shown[0]} {shown[1]}"
            )
    cross = doc.get("cross_check")
    if cross:
        for name, c in cross["against"].items():
            print(
                f"{name} vs {cross['reference']}: logit cosine min {c['prefill_logits_cosine_min']:.7f}, "
                f"greedy agreement {c['greedy_token_agreement'] * 100:.0f}% over {cross['prompts']} prompts"
            )
    else:
        print("transformers not installed (pip install 'inferperf[torch]'): no cross-check between runtimes")
    print("PASS" if ok else f"ratios outside {GOAL[0]}-{GOAL[1]} (see the docstring for why a tiny model shows it)")
    if args.kv_tokens:
        kv_ok = kv_report(args.model, args.kv_tokens)
        print("KV PASS (within 15%)" if kv_ok else "KV: measured growth more than 15% off the theory")


if __name__ == "__main__":
    main()
