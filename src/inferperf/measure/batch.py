"""Static batches of a decoder LLM: tokens/s, TTFT and TPOT as the batch grows.

A batch of B is B requests of the same prompt length submitted together to OpenVINO GenAI's
continuous-batching engine with an unlimited token budget per step: the B prompts are prefilled in one
step and the B sequences then decode together, one token each per step, to the same fixed length — what
a generate call on B prompts does, with every sequence's tokens timestamped as the engine hands them out
(not a total divided). Batch sizes are run round-robin, a round of each per turn after one warm-up round,
so the machine's drift falls on all of them alike and the speed-ups pair by round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np

from inferperf.backends.serving import ServingEngine
from inferperf.measure.generate import check_batch_sizes
from inferperf.measure.serving import Level, Load, ServeOptions, run_load
from inferperf.stats import between_repeats_half_width, paired_ratio_ci


@dataclass(frozen=True)
class BatchOptions:
    """The batch sizes, the one prompt length and output length they run, and how long to keep going."""

    sizes: tuple[int, ...]
    prompt_tokens: int
    new_tokens: int
    time_s: float = 20.0  # per batch size, after the warm-up round
    min_rounds: int = 3
    max_rounds: int = 30

    def __post_init__(self) -> None:
        check_batch_sizes(self.sizes)


def engine_options(opts: BatchOptions, cache_gb: float, kv_cache: str | None = None) -> ServeOptions:
    """The engine's settings: room for the largest batch, and its whole prefill in one step."""
    from inferperf.backends.genai import UNCHUNKED

    return ServeOptions(
        loads=(Load("concurrency", max(opts.sizes)),),
        prompt_tokens=opts.prompt_tokens,
        new_tokens=opts.new_tokens,
        requests=max(opts.sizes),
        cache_gb=cache_gb,
        max_num_seqs=max(opts.sizes),
        max_num_batched_tokens=UNCHUNKED,
        kv_cache=kv_cache,
    )


class Rate(TypedDict):
    """Output tokens/s over rounds: mean, t-interval, and each round's figure."""

    mean: float
    ci95: list[float]
    per_round: list[float]


class BatchSize(TypedDict):
    """One static batch size: tokens/s, its speed-up over the smallest size, per-request TTFT and TPOT."""

    batch: int
    output_tokens_per_s: Rate
    speedup: dict[str, object]
    ttft_ms_median: float
    tpot_ms_median: float
    tpot_ms_p99: float
    per_sequence_tokens_per_s: float
    requests: int


class BatchSweep(TypedDict):
    """Every batch size's figures, interleaved round by round (``generate --batches``)."""

    prompt_tokens: int
    new_tokens: int
    rounds: int
    engine: str
    speedup_over: int
    sizes: list[BatchSize]


class LoadedSweep(BatchSweep):
    """The sweep with the load time of the engine it ran on."""

    load_ms: float


def run_batches(
    engine: ServingEngine,
    prompts: Callable[[int], list[int]],
    opts: BatchOptions,
    serve: ServeOptions,
    progress: Callable[[str], None] | None = None,
) -> BatchSweep:
    """Rounds of every batch size until each has had ``time_s`` (and ``min_rounds``); figures per size."""
    sizes = sorted(opts.sizes)
    for b in sizes:  # warm-up: each batch shape once, not kept
        _one(engine, prompts, b, serve)
    rounds: dict[int, list[Level]] = {b: [] for b in sizes}
    started = time.perf_counter()
    while True:
        for b in sizes:
            if progress is not None:
                progress(f"batch {b}: round {len(rounds[b]) + 1}")
            rounds[b].append(_one(engine, prompts, b, serve))
        n = len(rounds[sizes[0]])
        spent = time.perf_counter() - started
        if n >= opts.max_rounds or (n >= opts.min_rounds and spent >= opts.time_s * len(sizes)):
            break
    base = sizes[0]
    return {
        "prompt_tokens": opts.prompt_tokens,
        "new_tokens": opts.new_tokens,
        "rounds": len(rounds[base]),
        "engine": "OpenVINO GenAI ContinuousBatchingPipeline: a batch's prompts prefilled in one step "
        "(max_num_batched_tokens unlimited), its sequences decoded together; rounds round-robin over sizes",
        "speedup_over": base,
        "sizes": [_summary(b, rounds[b], rounds[base]) for b in sizes],
    }


def _one(engine: ServingEngine, prompts: Callable[[int], list[int]], batch: int, serve: ServeOptions) -> Level:
    """One batch: ``batch`` requests submitted at once, run to the end."""
    return run_load(engine, prompts, Load("concurrency", batch), replace(serve, requests=batch))


def _summary(batch: int, rounds: Sequence[Level], base: Sequence[Level]) -> BatchSize:
    """A batch size's tokens/s over rounds (mean, t-interval), its pooled per-request TTFT/TPOT medians."""
    rate = np.array([r["output_tokens_per_s"] for r in rounds])
    half = between_repeats_half_width(rate)
    mean = float(rate.mean())
    ttft = [row["ttft_ms"] for r in rounds for row in r["raw"]]
    tpot = [row["tpot_ms"] for r in rounds for row in r["raw"]]
    base_rate = [r["output_tokens_per_s"] for r in base]
    return {
        "batch": batch,
        "output_tokens_per_s": {"mean": mean, "ci95": [mean - half, mean + half], "per_round": rate.tolist()},
        "speedup": paired_ratio_ci(rate, base_rate).to_dict(),
        "ttft_ms_median": float(np.median(ttft)),
        "tpot_ms_median": float(np.median(tpot)),
        "tpot_ms_p99": float(np.percentile(tpot, 99)),
        "per_sequence_tokens_per_s": 1e3 / float(np.median(tpot)),
        "requests": len(ttft),
    }
