"""Weight compression of a decoder LLM (NNCF), judged like ``quantize``: fidelity first, then speed, interleaved.

Fidelity is measured on held-out text against the uncompressed model: the next-token logits after each
prompt (cosine) and their top-1 token, and the greedy continuation. Speed is measured in rounds, every
variant once per round in turn, so the machine's drift hits all of them; the speed-ups of TTFT and of
TPOT over the uncompressed model are paired per round and carry a t-interval over the rounds. Decode
reads every weight once per token, so weight bytes / TPOT is the memory traffic decode achieved.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from inferperf.backends.generative import GenerativePipeline
from inferperf.backends.precision import PrecisionRecord
from inferperf.errors import ConfigError
from inferperf.measure.generate import GenerateOptions, Prompts, agreement, run_level
from inferperf.stats import paired_ratio_ci

# inferperf's names -> NNCF's CompressWeightsMode member names
MODES = {"int8": "INT8_ASYM", "int8_sym": "INT8_SYM", "int4_sym": "INT4_SYM", "int4_asym": "INT4_ASYM"}


class WeightVariant(TypedDict, total=False):
    """One variant of an LLM's weights (or of its KV cache), as the result lists it: how it was made,
    where it is, and what judging and measuring it added (its fidelity, precision, memory traffic)."""

    mode: str  # fp32, an NNCF format (int8, int4_sym, ...), or kv-<type> for a KV-cache precision
    nncf_mode: str
    group_size: int
    ratio: float
    seconds: float
    weights_bytes: int
    path: str
    kv_cache: str | None
    error: str  # NNCF could not make it
    precision: PrecisionRecord | None
    fidelity: LlmFidelity
    passes: bool
    decode_weight_traffic_gb_per_s: float
    fraction_of_memory_copy: float


def compress(folder: Path, mode: str, out: Path, group_size: int = 128, ratio: float = 1.0) -> WeightVariant:
    """``folder``'s model with its weights compressed (NNCF) into ``out``, beside copies of its other files."""
    import nncf
    import openvino as ov

    if mode not in MODES:
        raise ConfigError(f"unknown weight compression {mode!r}: choose from {', '.join(MODES)}")
    out.mkdir(parents=True, exist_ok=True)
    for item in folder.iterdir():
        # The tokenizer and config files, not the Hugging Face weights: they are the uncompressed model's
        # (GB on a real LLM) and a folder holding them would pass for the original to transformers.
        hf_weights = item.suffix == ".safetensors" or item.name.startswith("pytorch_model")
        if item.is_file() and not item.name.startswith("openvino_model.") and not hf_weights:
            shutil.copyfile(item, out / item.name)
    logging.getLogger("nncf").setLevel(logging.WARNING)  # its per-layer statistics table is not our report
    t0 = time.perf_counter()
    model = ov.Core().read_model(str(folder / "openvino_model.xml"))
    kwargs: dict[str, Any] = {"mode": getattr(nncf.CompressWeightsMode, MODES[mode])}
    if mode.startswith("int4"):
        kwargs |= {"group_size": group_size, "ratio": ratio}
    try:
        compressed = nncf.compress_weights(model, **kwargs)
    except Exception as exc:  # NNCF's own error classes; a group size that does not divide a layer is one
        if type(exc).__name__ != "InvalidGroupSizeError":
            raise
        import re

        sizes = sorted({int(m) for m in re.findall(r"channel size:\s*(\d+)", str(exc))})
        raise ConfigError(
            f"invalid `group_size` {group_size}: it must divide every compressed layer's channel count "
            f"(this model has layers of {', '.join(map(str, sizes)) or 'other sizes'})"
        ) from None
    ov.save_model(compressed, str(out / "openvino_model.xml"), compress_to_fp16=False)
    grouped = WeightVariant(group_size=group_size, ratio=ratio) if mode.startswith("int4") else WeightVariant()
    return {
        "mode": mode,
        "nncf_mode": MODES[mode],
        **grouped,
        "seconds": time.perf_counter() - t0,
        "weights_bytes": (out / "openvino_model.bin").stat().st_size,
        "path": str(out),
    }


class LlmFidelity(TypedDict):
    """A variant against its original on held-out prompts; the logit figures when logits were compared."""

    prompts: int
    logit_cosine_min: NotRequired[float]
    logit_cosine_median: NotRequired[float]
    next_token_top1_agreement: NotRequired[float]
    greedy_token_agreement: float
    greedy_new_tokens: NotRequired[int]  # a KV-cache precision: judged on this many greedy tokens
    note: str


class LlmSpeed(TypedDict):
    """Every variant's per-round median TTFT and TPOT, and speed-ups over the first, paired by round."""

    rounds: int
    warmup_round: dict[str, dict[str, float]]
    per_round: dict[str, dict[str, list[float]]]
    speedup_over: str
    speedup: dict[str, dict[str, dict[str, object]]]


FIDELITY_TOKENS = 16  # greedy tokens compared per prompt (twice as many for a KV-cache precision)


def fidelity(
    ref: GenerativePipeline, cand: GenerativePipeline, prompts: Sequence[list[int]], logits: bool = True
) -> LlmFidelity:
    """A compressed variant against its original (``measure.generate.agreement``): next-token logit cosine
    and top-1 agreement after each prompt, greedy agreement over ``FIDELITY_TOKENS``.

    ``logits=False`` (a KV-cache precision, which acts on decode only: the prefill's logits never read the
    cache) judges by the greedy continuation alone, over more tokens.
    """
    if not logits:
        same = agreement(ref, cand, prompts, 2 * FIDELITY_TOKENS, logits=False)
        return {
            "prompts": len(prompts),
            "greedy_token_agreement": same["greedy_token_agreement"],
            "greedy_new_tokens": 2 * FIDELITY_TOKENS,
            "note": "a KV-cache precision changes decode, not the prefill's logits: judged on greedy decoding",
        }
    same = agreement(ref, cand, prompts, FIDELITY_TOKENS)
    return {
        "prompts": len(prompts),
        "logit_cosine_min": same["logit_cosine_min"],
        "logit_cosine_median": same["logit_cosine_median"],
        "next_token_top1_agreement": same["next_token_top1_agreement"],
        "greedy_token_agreement": same["greedy_token_agreement"],
        "note": "random weights make these figures about the arithmetic, not about text quality; "
        "perplexity needs real weights",
    }


WARMUP_ROUNDS = 1  # rounds run before the kept ones and left out of the intervals


def interleaved_speed(
    pipes: dict[str, GenerativePipeline],
    prompts: Prompts,
    opts: GenerateOptions,
    rounds: int,
    progress: Callable[[str], None] | None = None,
) -> LlmSpeed:
    """Per round, every variant's median TTFT and TPOT (one level at opts.prompt_tokens[0], opts.time_s);
    speed-ups over the first variant paired by round, with t-intervals.

    A first round is run and not kept: on the 0.97 B model the fp32 variant's first round decoded at 198 ms
    a token against 160-162 ms in the rounds after (its 3.9 GB of weights first read with the other
    variants loaded beside it), which alone widened INT4's speed-up interval from about +-10% to [1.68, 3.52].
    """
    per: dict[str, dict[str, list[float]]] = {name: {"ttft_ms": [], "tpot_ms": []} for name in pipes}
    discarded: dict[str, dict[str, float]] = {}
    for r in range(-WARMUP_ROUNDS, rounds):
        for name, pipe in pipes.items():
            if progress is not None:
                progress(f"speed round {r + 1}/{rounds}: {name}" if r >= 0 else f"warm-up round: {name}")
            level = run_level(pipe, prompts, opts.prompt_tokens[0], opts, pipe.decode)
            medians = {key: float(level[key]["median"]["value"]) for key in ("ttft_ms", "tpot_ms")}
            if r < 0:
                discarded[name] = medians
                continue
            for key, value in medians.items():
                per[name][key].append(value)
    base = next(iter(pipes))
    out: LlmSpeed = {
        "rounds": rounds,
        "warmup_round": discarded,
        "per_round": per,
        "speedup_over": base,
        "speedup": {},
    }
    for name in list(pipes)[1:]:
        out["speedup"][name] = {
            key: paired_ratio_ci(per[base][key], per[name][key]).to_dict() for key in ("ttft_ms", "tpot_ms")
        }
    return out


def group_size_for(architecture: dict[str, Any], wanted: int) -> int:
    """The largest group size at most ``wanted`` that divides the model's hidden and MLP widths (every
    compressed layer's input channels), so INT4 applies to tiny models as to real ones."""
    import math

    widths = [int(architecture[k]) for k in ("hidden_size", "intermediate_size") if architecture.get(k)]
    return math.gcd(wanted, *widths) if widths else wanted
