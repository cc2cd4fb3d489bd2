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
f32) and for the pipeline's default, each with the cache reserved up front as ``generate`` does, against
2 x layers x kv_heads x head_dim x bytes (goal: within 15%); and once more for the default with the cache
grown as it fills (GenAI's own default: regrown by copies every 256 tokens, which the allocator keeps).
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


def kv_growth(model: str, child: str, tokens: int) -> dict[str, Any]:
    """One fresh process: load with the cache at the precision ``child`` names ("default": not set; a
    ":grown" suffix: the cache grown as it fills, else reserved up front), trace one request."""
    from inferperf.backends.generative import get_generative, rss_reader
    from inferperf.commands.generate import _model_doc
    from inferperf.measure.llm_memory import memory_profile, reserve_gb
    from inferperf.model.zoo import llm_folder

    precision, _, grown = child.partition(":")
    folder, builtin = llm_folder(model)
    arch = _model_doc(folder, builtin)["architecture"]
    reserve = None if grown else reserve_gb(arch, 16 + tokens)
    rss = rss_reader()
    before = rss()
    kv_cache = None if precision == "default" else precision
    pipe = get_generative("openvino-genai", folder, kv_cache=kv_cache, kv_cache_gb=reserve)
    memory = memory_profile(pipe, arch, lambda n: list(range(4, 4 + n)), (before, rss()), tokens, reserved_gb=reserve)
    return dict(memory["kv_cache"])


def kv_report(model: str, tokens: int) -> bool:
    found = {}
    for child in ("u8", "f16", "f32", "default", "default:grown"):
        cmd = [sys.executable, __file__, model, "--kv-child", child, "--kv-tokens", str(tokens)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        found[child] = json.loads(out.strip().splitlines()[-1])
    ok = True
    print(f"KV cache over {tokens} new tokens (RSS slope, last 3/4), MiB per 1k tokens:")
    for child, kv in found.items():
        measured, theory = kv["measured"]["mib_per_1k_tokens"], kv["theory"]
        if child.startswith("default"):  # judged against the precision its growth points to
            likeliest = theory.get("likeliest_precision") or theory["precision"]
            per_1k = theory["candidates_mib_per_1k_tokens"].get(likeliest, theory["mib_per_1k_tokens"])
            theory = {**theory, "precision": likeliest, "mib_per_1k_tokens": per_1k}
        ratio = measured / theory["mib_per_1k_tokens"]
        if child in ("u8", "f16", "f32"):
            ok &= abs(ratio - 1) <= 0.15
        how = "grown as it fills" if child.endswith(":grown") else f"reserved {kv['cache_reserved_gb']} GiB"
        print(
            f"  {child:14s} measured {measured:7.2f}  theory {theory['mib_per_1k_tokens']:7.2f} "
            f"({theory['precision']}, {theory['precision_source']})  x{ratio:.2f}  [{how}]"
        )
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
