"""Generative (decoder LLM) serving figures for one request at a time: TTFT, TPOT, ITL, end to end.

Every request has a fixed prompt length (exact token ids cut from real text) and a fixed output
length (EOS ignored), so runs compare. Each generated token's time is taken when the pipeline hands
it to our streamer, on the generating thread, not derived by dividing a total. Per prompt length,
requests repeat (after a warm-up) until the median TTFT and TPOT are known to ``precision`` or the
time budget ends; every figure carries a 95% interval. The pipeline's own PerfMetrics of the same
requests are kept beside ours as a cross-check.

Definitions (per request, all from the request's start = the call to ``generate``):
- TTFT: time to the first generated token (prefill + first decode step), without tokenization
  (the prompt is given as token ids); ``ttft_with_tokenization_ms`` adds the prompt's measured
  tokenization time.
- ITL: every gap between two consecutive generated tokens.
- TPOT: mean ITL of the request, first token excluded = (t_last - t_first) / (n - 1).
  The other common definition, end to end / n, is reported as ``e2e_per_token_ms``, named.
- prefill tokens/s: prompt tokens / TTFT; decode tokens/s: (n - 1) / (t_last - t_first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from inferperf.backends.generative import GenerativePipeline, Request
from inferperf.errors import BackendError, ConfigError, InputSpecError
from inferperf.jsonform import JsonRecord
from inferperf.stats import median_ci_small, summarize


@dataclass(frozen=True)
class GenerateOptions(JsonRecord):
    """What to run: prompt lengths, output length, and how long to keep measuring each length."""

    prompt_tokens: tuple[int, ...] = (128,)
    new_tokens: int = 64
    min_requests: int = 5
    max_requests: int = 200
    time_s: float = 20.0  # per prompt length, after the warm-up
    precision: float = 0.02  # stop once the medians of TTFT and TPOT are known to +-2%
    warmup: int = 1
    seed: int = 0
    prefix_caching: bool = False  # GenAI's prompt-prefix KV cache: off, so TTFT measures the prefill
    memory_tokens: int | None = None  # RSS per phase and KV-cache growth over a request this long
    batches: tuple[int, ...] = ()  # static batch sizes for tokens/s vs batch (continuous-batching engine)

    def __post_init__(self) -> None:
        if not self.prompt_tokens or any(n < 1 for n in self.prompt_tokens):
            raise ConfigError(f"invalid `prompt_tokens` {self.prompt_tokens}: give positive token counts")
        if self.new_tokens < 2:
            raise ConfigError(f"invalid `new_tokens` {self.new_tokens}: at least 2 (a TPOT needs two tokens)")
        if self.min_requests < 2 or self.max_requests < self.min_requests:
            raise ConfigError("`min_requests` must be at least 2 and at most `max_requests`")
        if self.memory_tokens is not None and self.memory_tokens < 16:
            raise ConfigError(f"invalid `memory_tokens` {self.memory_tokens}: at least 16 (a slope over tokens)")
        if self.batches:
            check_batch_sizes(self.batches)


MAX_BATCH = 256


def check_batch_sizes(sizes: Sequence[int]) -> None:
    """Static batch sizes: from 1 to MAX_BATCH, each once."""
    if not sizes or any(b < 1 or b > MAX_BATCH for b in sizes):
        raise ConfigError(f"invalid `batches` {list(sizes)}: sizes from 1 to {MAX_BATCH}")
    if len(set(sizes)) != len(sizes):
        raise ConfigError(f"invalid `batches` {list(sizes)}: a size given twice")


# ---------------------------------------------------------------- prompts


def corpus_text(data: str | Path | None) -> tuple[str, str]:
    """Real text to cut prompts from, and where it came from.

    ``data`` is a text file (.txt; .jsonl with a "text" field per line); without it, the docstrings of
    Python's own standard library modules, which every install ships.
    """
    if data is not None:
        return _read_texts(Path(data)), str(data)
    import importlib

    parts = []
    for name in _STDLIB_MODULES:
        try:
            doc = importlib.import_module(name).__doc__
        except ImportError:
            continue
        if doc:
            parts.append(doc.strip())
    return "\n\n".join(parts), "docstrings of Python standard library modules"


_STDLIB_MODULES = (
    "argparse", "asyncio", "collections", "contextlib", "csv", "dataclasses", "datetime", "decimal",
    "difflib", "email", "enum", "fractions", "functools", "heapq", "http", "inspect", "io", "itertools",
    "json", "logging", "mailbox", "multiprocessing", "pathlib", "pickle", "pprint", "random", "re",
    "shutil", "socket", "sqlite3", "statistics", "string", "subprocess", "tarfile", "textwrap",
    "threading", "timeit", "turtle", "typing", "unittest", "urllib", "uuid", "warnings", "zipfile",
)  # fmt: skip


def _read_texts(path: Path) -> str:
    import json

    if not path.is_file():
        raise InputSpecError(f"`data` not found: {path}")
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".jsonl":
        try:
            return "\n\n".join(str(json.loads(line)["text"]) for line in raw.splitlines() if line.strip())
        except (ValueError, KeyError, TypeError):
            raise InputSpecError(f"{path}: each line must be a JSON object with a 'text' field") from None
    if not raw.strip():
        raise InputSpecError(f"{path} holds no text")
    return raw


class Prompts:
    """Prompts of exact token counts, cut at seeded offsets from the tokenized text (wrapping around)."""

    def __init__(self, ids: Sequence[int], seed: int) -> None:
        if len(ids) < 16:
            raise InputSpecError("the prompt text tokenizes to fewer than 16 tokens: give more text with `data`")
        self.ids = list(ids)
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int) -> list[int]:
        """``n`` consecutive token ids from a random place in the text."""
        start = int(self.rng.integers(len(self.ids)))
        reps = -(-(start + n) // len(self.ids))
        return (self.ids * reps)[start : start + n]


# ---------------------------------------------------------------- one prompt length


Progress = Callable[[str], None]


def run_level(
    pipe: GenerativePipeline,
    prompts: Prompts,
    prompt_tokens: int,
    opts: GenerateOptions,
    text_of: Callable[[list[int]], str],
    progress: Progress | None = None,
) -> LevelFigures:
    """Requests of one prompt length until converged or out of time; their figures with intervals."""
    for _ in range(opts.warmup):
        pipe.generate(prompts.draw(prompt_tokens), opts.new_tokens)
    requests: list[Request] = []
    started = time.perf_counter()
    reason = "time budget"
    while len(requests) < opts.max_requests:
        ids = prompts.draw(prompt_tokens)
        tokenization_ms = _tokenization_ms(pipe, text_of(ids))
        request = pipe.generate(ids, opts.new_tokens)
        request.tokenization_ms = tokenization_ms
        _check(request, prompt_tokens, opts.new_tokens)
        requests.append(request)
        if progress is not None:
            progress(f"prompt {prompt_tokens} tokens: {len(requests)} requests")
        if len(requests) >= opts.min_requests and _converged(requests, opts.precision):
            reason = f"converged (medians to +-{opts.precision:.0%})"
            break
        if time.perf_counter() - started >= opts.time_s and len(requests) >= opts.min_requests:
            break
    else:
        reason = "request cap"
    return summarize_level(requests, prompt_tokens, reason)


def _tokenization_ms(pipe: GenerativePipeline, text: str) -> float:
    t0 = time.perf_counter()
    pipe.encode(text)
    return (time.perf_counter() - t0) * 1e3


def _check(request: Request, prompt_tokens: int, new_tokens: int) -> None:
    """A request must produce what was asked: otherwise every per-token figure counts the wrong thing."""
    got = len(request.token_times)
    if got != new_tokens:
        raise BackendError(
            f"asked for exactly {new_tokens} new tokens (EOS ignored), the streamer saw {got}: "
            "this pipeline does not honour min_new_tokens/ignore_eos"
        )
    seen = request.pipeline.get("input_tokens")
    if seen is not None and int(seen) != prompt_tokens:
        raise BackendError(f"the pipeline saw a {int(seen)}-token prompt, {prompt_tokens} were given")


def _converged(requests: list[Request], precision: float) -> bool:
    for key in ("ttft_ms", "tpot_ms"):
        values = [r.figures()[key] for r in requests]
        if median_ci_small(values).relative_half_width() > precision:
            return False
    return True


class LevelFigures(TypedDict):
    """One prompt length's requests summarised: each per-request figure's median, p90 and p99 with 95%
    intervals (the median's from the small-sample method), pooled ITL, rates, and every request raw."""

    prompt_tokens: int
    requests: int
    stop_reason: str
    ttft_ms: dict[str, Any]
    ttft_with_tokenization_ms: dict[str, Any]
    tpot_ms: dict[str, Any]
    e2e_ms: dict[str, Any]
    e2e_per_token_ms: dict[str, Any]
    prefill_tokens_per_s: dict[str, Any]
    decode_tokens_per_s: dict[str, Any]
    itl_ms: dict[str, Any]
    output_tokens_per_s: float
    requests_per_s: float
    pipeline_perf_metrics: NotRequired[dict[str, float | str]]  # with a pipeline that reports its own
    raw: list[dict[str, Any]]


class _Metrics(TypedDict, total=False):
    pipeline_perf_metrics: dict[str, float | str]


def summarize_level(requests: list[Request], prompt_tokens: int, stop_reason: str) -> LevelFigures:
    """Per-request figures summarised (median, p90, p99 with 95% intervals), pooled ITL, the cross-check."""
    per = [r.figures() for r in requests]

    def stat(key: str) -> dict[str, object]:
        values = np.array([p[key] for p in per])
        return {**summarize(values).to_dict(), "median": median_ci_small(values).to_dict()}

    gaps = np.array([g for r in requests for g in r.gaps_ms()])
    wall = sum(r.end - r.start for r in requests)
    out: LevelFigures = {
        "prompt_tokens": prompt_tokens,
        "requests": len(requests),
        "stop_reason": stop_reason,
        "ttft_ms": stat("ttft_ms"),
        "ttft_with_tokenization_ms": stat("ttft_with_tokenization_ms"),
        "tpot_ms": stat("tpot_ms"),
        "e2e_ms": stat("e2e_ms"),
        "e2e_per_token_ms": stat("e2e_per_token_ms"),
        "prefill_tokens_per_s": stat("prefill_tokens_per_s"),
        "decode_tokens_per_s": stat("decode_tokens_per_s"),
        "itl_ms": {**summarize(gaps).to_dict(), "count": int(gaps.size)},
        "output_tokens_per_s": sum(len(r.token_times) for r in requests) / wall,
        "requests_per_s": len(requests) / wall,
        **(
            _Metrics(pipeline_perf_metrics=_agreement(requests, per))
            if any(r.pipeline for r in requests)
            else _Metrics()
        ),
        "raw": [
            {**{k: round(v, 4) for k, v in p.items()}, "pipeline": r.pipeline}
            for p, r in zip(per, requests, strict=True)
        ],
    }
    return out


def _agreement(requests: list[Request], per: list[dict[str, float]]) -> dict[str, float | str]:
    """Our TTFT and TPOT against the pipeline's own PerfMetrics of the same requests (median ratio)."""
    out: dict[str, float | str] = {}
    for key in ("ttft_ms", "tpot_ms"):
        ratios = [p[key] / r.pipeline[key] for p, r in zip(per, requests, strict=True) if r.pipeline.get(key)]
        if ratios:
            out[f"{key}_ours_over_pipeline"] = float(np.median(ratios))
    out["note"] = (
        "ratios near 1 mean both clocks agree; ours runs from the generate call to the streamer's "
        "callback, the pipeline's from its own start to the token's sampling"
    )
    return out


# ---------------------------------------------------------------- cross-check between runtimes


class Agreement(TypedDict):
    """Whether two pipelines compute the same model, on the same prompts."""

    prompts: int
    new_tokens: int
    greedy_token_agreement: float
    greedy_agreeing_prefix_min: int
    logit_cosines: NotRequired[list[float]]  # with the logits compared
    logit_cosine_min: NotRequired[float]
    logit_cosine_median: NotRequired[float]
    next_token_top1_agreement: NotRequired[float]


class Against(TypedDict):
    """One runtime against the reference runtime."""

    prefill_logits_cosine_min: float
    prefill_logits_cosine: list[float]
    greedy_token_agreement: float
    greedy_agreeing_prefix_min: int


class CrossCheck(TypedDict):
    """Every runtime's agreement with the first one's."""

    reference: str
    prompts: int
    new_tokens: int
    against: dict[str, Against]


def agreement(
    ref: GenerativePipeline,
    cand: GenerativePipeline,
    prompts: Sequence[list[int]],
    new_tokens: int = 16,
    logits: bool = True,
) -> Agreement:
    """The one check that two pipelines compute the same model (two runtimes, or a compressed variant
    against its original): on the same prompts, the cosine of the next-token logits after the prefill and
    whether their top-1 agree (``logits``), and how many greedy tokens agree, with the shortest agreeing
    prefix."""
    cosines, top1, greedy, prefix = [], [], [], []
    for ids in prompts:
        if logits:
            a, b = ref.prefill_logits(ids), cand.prefill_logits(ids)
            cosines.append(cosine(a, b))
            top1.append(int(np.argmax(a)) == int(np.argmax(b)))
        ga, gb = ref.greedy_tokens(ids, new_tokens), cand.greedy_tokens(ids, new_tokens)
        greedy.append(sum(x == y for x, y in zip(ga, gb, strict=False)) / new_tokens)
        prefix.append(next((i for i, (x, y) in enumerate(zip(ga, gb, strict=False)) if x != y), new_tokens))
    out: Agreement = {
        "prompts": len(prompts),
        "new_tokens": new_tokens,
        "greedy_token_agreement": float(np.mean(greedy)),
        "greedy_agreeing_prefix_min": min(prefix),
    }
    if logits:
        out["logit_cosines"], out["logit_cosine_min"] = cosines, min(cosines)
        out["logit_cosine_median"], out["next_token_top1_agreement"] = float(np.median(cosines)), sum(top1) / len(top1)
    return out


def cross_check(pipes: Sequence[GenerativePipeline], prompts: Sequence[list[int]], new_tokens: int = 16) -> CrossCheck:
    """Do the runtimes compute the same model? ``agreement`` of each runtime against the first."""
    ref = pipes[0]
    out: CrossCheck = {"reference": ref.name, "prompts": len(prompts), "new_tokens": new_tokens, "against": {}}
    for pipe in pipes[1:]:
        same = agreement(ref, pipe, prompts, new_tokens)
        out["against"][pipe.name] = {
            "prefill_logits_cosine_min": same["logit_cosine_min"],
            "prefill_logits_cosine": same["logit_cosines"],
            "greedy_token_agreement": same["greedy_token_agreement"],
            "greedy_agreeing_prefix_min": same["greedy_agreeing_prefix_min"],
        }
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two vectors, in float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))
