"""A decoder LLM's memory: resident set per phase, and the KV cache's growth per token against the theory.

Each generated token appends one key and one value vector per layer and KV head to the cache, so the
cache grows by 2 x layers x kv_heads x head_dim x bytes per element per token (plus, for an 8-bit
cache, a scale and a zero point per token, head and tensor). The measurement reads the process's
resident set (RSS) at every token of one long request, whose prompt is short: prefill's transient
buffers are sized by the prompt and stay put, so what grows during decode is the cache. The slope of
RSS over the later tokens (least squares) is the measured growth; runtimes allocate the cache in
blocks, so the fit spans many blocks and the result says how many steps it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inferperf.backends.generative import GenerativePipeline, rss_reader

MIB = 2**20
# bytes per element of the cache's precision; 8-bit caches also keep a scale and a zero point (f32 each)
# per token, head and tensor (OpenVINO's CPU plug-in, by-token quantization over the whole head)
_ELEMENT_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "u8": 1, "i8": 1, "u4": 0.5}
_QUANT_PARAMS_BYTES = {"u8": 8, "i8": 8, "u4": 8}


def kv_theory(architecture: dict[str, Any], precision: str) -> dict[str, Any]:
    """Bytes per token of the KV cache from the model's config and the cache's element type."""
    layers = int(architecture["num_hidden_layers"])
    heads = int(architecture["num_attention_heads"])
    kv_heads = int(architecture.get("num_key_value_heads") or heads)
    head_dim = int(architecture.get("head_dim") or int(architecture["hidden_size"]) // heads)
    element = _ELEMENT_BYTES.get(precision)
    if element is None:
        return {"precision": precision, "bytes_per_token": None, "why": f"unknown element size of {precision!r}"}
    per_head = head_dim * element + _QUANT_PARAMS_BYTES.get(precision, 0)
    per_token = 2 * layers * kv_heads * per_head
    return {
        "precision": precision,
        "layers": layers,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "bytes_per_token": per_token,
        "mib_per_1k_tokens": per_token * 1000 / MIB,
        "formula": "2 x layers x kv_heads x (head_dim x bytes per element + quantization params)",
    }


def growth(rss_bytes: Sequence[int], skip: float = 0.25) -> dict[str, Any]:
    """Least-squares slope of RSS over tokens, leaving out the first ``skip`` of them (prefill's tail)."""
    r = np.asarray(rss_bytes, dtype=float)
    start = int(len(r) * skip)
    if len(r) - start < 8:
        return {"bytes_per_token": None, "why": f"{len(r)} tokens traced: too few for a slope"}
    k = np.arange(start, len(r), dtype=float)
    slope, _ = np.polyfit(k, r[start:], 1)
    steps = np.diff(r[start:])
    return {
        "bytes_per_token": float(slope),
        "mib_per_1k_tokens": float(slope) * 1000 / MIB,
        "tokens_fitted": int(len(r) - start),
        "allocation_steps": int(np.count_nonzero(steps > 64 * 1024)),
        "rss_first_mib": float(r[start] / MIB),
        "rss_last_mib": float(r[-1] / MIB),
    }


def memory_profile(
    pipe: GenerativePipeline,
    architecture: dict[str, Any],
    prompt: Callable[[int], list[int]],
    rss_load: tuple[int, int],
    new_tokens: int,
    prompt_tokens: int = 16,
) -> dict[str, Any]:
    """RSS per phase (load and compile, first token, steady decode) and the KV cache's growth vs theory.

    ``rss_load`` is (before, after) loading the pipeline; ``prompt(n)`` gives n prompt token ids.
    """
    rss = rss_reader()
    request = pipe.generate(prompt(prompt_tokens), new_tokens, trace_memory=True)
    trace = request.rss_bytes
    if not trace:
        return {"why": "the pipeline handed over no tokens to trace"}
    precision, certain = pipe.kv_cache_precision()
    theory = kv_theory(architecture, precision)
    measured = growth(trace)
    ratio = None
    if measured.get("bytes_per_token") and theory.get("bytes_per_token"):
        ratio = measured["bytes_per_token"] / theory["bytes_per_token"]
    theory["precision_source"] = "asked (or the model's dtype)" if certain else "the device's reported default"
    candidates = {p: kv_theory(architecture, p)["mib_per_1k_tokens"] for p in ("u8", "f16", "f32")}
    theory["candidates_mib_per_1k_tokens"] = candidates
    if not certain and measured.get("mib_per_1k_tokens"):
        # Runtimes over-allocate, they do not under-allocate: the closest precision whose theory is not above
        # the measured growth is the likeliest one the pipeline chose.
        below = {p: v for p, v in candidates.items() if v <= measured["mib_per_1k_tokens"]}
        likeliest = max(below, key=lambda p: below[p]) if below else min(candidates, key=lambda p: candidates[p])
        theory["likeliest_precision"] = likeliest
        if likeliest != precision:
            theory["note"] = (
                f"the device reports {precision} as its default, but the growth is closer to {likeliest} "
                f"({candidates[likeliest]:.2f} MiB per 1k tokens): set the precision (llm-compress --kv-cache, or "
                "KV_CACHE_PRECISION) to know it"
            )
    before, after = rss_load
    return {
        "phases_mib": {
            "before_load": before / MIB,
            "after_load_and_compile": after / MIB,
            "first_token": trace[0] / MIB,
            "last_token": trace[-1] / MIB,
            "after_request": rss() / MIB,
        },
        "kv_cache": {
            "prompt_tokens": prompt_tokens,
            "new_tokens": new_tokens,
            "measured": measured,
            "theory": theory,
            "measured_over_theory": ratio,
            "method": "RSS read at every token of one request with a short prompt; least-squares slope over "
            "its last 3/4 of tokens",
        },
        "trace_mib": [round(b / MIB, 2) for b in trace[:: max(1, len(trace) // 64)]],
    }
