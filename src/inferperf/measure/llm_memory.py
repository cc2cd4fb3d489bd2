"""A decoder LLM's memory: resident set per phase, and the KV cache's growth per token against the theory.

Each generated token appends one key and one value vector per layer and KV head to the cache, so the
cache grows by 2 x layers x kv_heads x head_dim x bytes per element per token (plus, for an 8-bit
cache, its quantization parameters). The measurement reads the process's resident set (RSS) at every
token of one long request, whose prompt is short: prefill's transient buffers are sized by the prompt
and stay put, so what grows during decode is the cache. The slope of RSS over the later tokens (least
squares) is the measured growth.

Where the runtime can reserve the cache up front (OpenVINO GenAI's ``cache_size``), it is: its pages
become resident as tokens are first written into them, so the slope is the cache's own growth. A cache
grown as it fills is re-allocated and copied every 256 tokens (GenAI's dynamic cache), and the
allocator keeps the freed copies, which made the slope x1.2-1.4 the cache on a 0.36 B model (x1.03
reserved).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.generative import GenerativePipeline, rss_reader

MIB = 2**20
_ELEMENT_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "u8": 1, "i8": 1, "u4": 0.5}
_QUANTIZED = {"u8", "i8", "u4"}
# OpenVINO's CPU plug-in quantizes an 8-bit paged cache's keys by channel, a scale and a zero point (f32
# each) per channel per block of 32 tokens, and its values by token, a scale and a zero point per token and
# head (2026.4; its own allocation, read from the pipeline's metrics, is 7296 B per token on a model of
# 24 layers, 2 KV heads of 64, as this layout gives).
_PARAM_BYTES = 8
_BLOCK_TOKENS = 32


class KvTheory(TypedDict, total=False):
    """The KV cache's bytes per token by the formula (``why`` instead where the element size is unknown);
    against a measurement, where the precision came from and which one the growth looks like."""

    precision: str
    layers: int
    kv_heads: int
    head_dim: int
    bytes_per_token: float | None
    mib_per_1k_tokens: float
    formula: str
    why: str
    precision_source: str
    candidates_mib_per_1k_tokens: dict[str, float]
    likeliest_precision: str
    note: str


class Growth(TypedDict, total=False):
    """The measured slope of RSS over tokens (``why`` instead where too few tokens were traced)."""

    bytes_per_token: float | None
    why: str
    mib_per_1k_tokens: float
    tokens_fitted: int
    allocation_steps: int
    rss_first_mib: float
    rss_last_mib: float


class KvCache(TypedDict):
    """The KV cache's growth measured against the theory."""

    prompt_tokens: int
    new_tokens: int
    measured: Growth
    theory: KvTheory
    measured_over_theory: float | None
    method: str
    cache_reserved_gb: int | None
    allocation: str


class MemoryProfile(TypedDict, total=False):
    """RSS per phase and the KV cache's growth (``why`` alone where no token could be traced)."""

    why: str
    phases_mib: dict[str, float]
    kv_cache: KvCache
    trace_mib: list[float]


def kv_theory(architecture: dict[str, Any], precision: str) -> KvTheory:
    """Bytes per token of the KV cache from the model's config and the cache's element type."""
    layers = int(architecture["num_hidden_layers"])
    heads = int(architecture["num_attention_heads"])
    kv_heads = int(architecture.get("num_key_value_heads") or heads)
    head_dim = int(architecture.get("head_dim") or int(architecture["hidden_size"]) // heads)
    element = _ELEMENT_BYTES.get(precision)
    if element is None:
        return {"precision": precision, "bytes_per_token": None, "why": f"unknown element size of {precision!r}"}
    key = value = head_dim * element
    formula = "2 x layers x kv_heads x head_dim x bytes per element"
    if precision in _QUANTIZED:
        key += _PARAM_BYTES * head_dim / _BLOCK_TOKENS
        value += _PARAM_BYTES
        formula = (
            "layers x kv_heads x (keys: head_dim x bytes + a scale and zero point per channel per 32-token "
            "block; values: head_dim x bytes + a scale and zero point per token)"
        )
    per_token = layers * kv_heads * (key + value)
    return {
        "precision": precision,
        "layers": layers,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "bytes_per_token": per_token,
        "mib_per_1k_tokens": per_token * 1000 / MIB,
        "formula": formula,
    }


def reserve_gb(architecture: dict[str, Any], tokens: int) -> int:
    """Whole GiB enough for ``tokens`` of cache at f32 (the widest element), with a quarter to spare."""
    per_token = kv_theory(architecture, "f32").get("bytes_per_token")
    assert per_token is not None  # f32's element size is known
    return max(1, math.ceil(per_token * tokens * 1.25 / 2**30))


def growth(rss_bytes: Sequence[int], skip: float = 0.25) -> Growth:
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
    reserved_gb: int | None = None,
) -> MemoryProfile:
    """RSS per phase (load and compile, first token, steady decode) and the KV cache's growth vs theory.

    ``rss_load`` is (before, after) loading the pipeline; ``prompt(n)`` gives n prompt token ids;
    ``reserved_gb``: the cache was reserved up front, that large (None: grown as it fills).
    """
    rss = rss_reader()
    request = pipe.generate(prompt(prompt_tokens), new_tokens, trace_memory=True)
    trace = request.rss_bytes
    if not trace:
        return {"why": "the pipeline handed over no tokens to trace"}
    precision, certain = pipe.kv_cache_precision()
    theory = kv_theory(architecture, precision)
    measured = growth(trace)
    slope, per_token = measured.get("bytes_per_token"), theory.get("bytes_per_token")
    ratio = slope / per_token if slope and per_token else None
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
            "cache_reserved_gb": reserved_gb,
            "allocation": "reserved up front: its pages become resident as tokens are written"
            if reserved_gb
            else "grown as it fills: the slope includes regrowth copies the allocator keeps",
        },
        "trace_mib": [round(b / MIB, 2) for b in trace[:: max(1, len(trace) // 64)]],
    }
