"""The decoder-LLM commands' arguments and options (generate, serving, an endpoint, LLM optimize), declared
once, as in ``cli/options.py`` (whose conventions hold here: the alias carries the flag and its help)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferperf.cli.options import PARSED, duration_option

# --- generate -------------------------------------------------------------------------------------
LlmModelArg = Annotated[
    str,
    typer.Argument(
        help="Folder exported for OpenVINO GenAI (optimum-cli export openvino --task text-generation-with-past) "
        "or 'builtin' (a tiny random-weight Llama: measures the machinery, not a real model), or "
        "zoo:tiny-llama|tiny-qwen2|tiny-phi3 (the same tiny stack in each family)."
    ),
]
GenerateBackendsOpt = Annotated[
    str, typer.Option("--backend", help="openvino-genai and/or transformers (comma-separated; cross-checked).")
]
PromptTokensOpt = Annotated[
    str, typer.Option("--prompt-tokens", help="Prompt lengths in tokens, e.g. 128,512,2048."), PARSED
]
NewTokensOpt = Annotated[int, typer.Option("--new-tokens", help="Tokens generated per request (EOS ignored).")]
TextDataOpt = Annotated[
    Path | None, typer.Option("--data", help="Text to cut prompts from: .txt, or .jsonl with a 'text' field.")
]
LevelTimeOpt = Annotated[
    float,
    duration_option("--time", "Requests per prompt length for at most, e.g. 20s."),
]
MinRequestsOpt = Annotated[int, typer.Option("--min-requests", help="Requests per prompt length, at least.")]
PromptSeedOpt = Annotated[int, typer.Option("--seed", help="Seed of where prompts are cut from the text.")]
LlmDeviceOpt = Annotated[str, typer.Option("--device", help="OpenVINO device.")]
PrefixCachingOpt = Annotated[
    bool, typer.Option("--prefix-caching", help="Keep GenAI's prompt-prefix KV cache on (off: TTFT is the prefill).")
]
KvCachesOpt = Annotated[
    str,
    typer.Option(
        "--kv-cache",
        help="Also the uncompressed weights with the KV cache at these precisions, e.g. u8,f16 (OpenVINO's "
        "KV_CACHE_PRECISION); empty: none.",
    ),
]
GenerateBatchOpt = Annotated[
    str | None,
    typer.Option(
        "--batches",
        help="Also static batches of these sizes (e.g. 1,2,4,8) at the first prompt length, on continuous "
        "batching: tokens/s vs batch with intervals, TTFT and TPOT per size.",
    ),
    PARSED,
]
MemoryTokensOpt = Annotated[
    int | None,
    typer.Option(
        "--memory-tokens",
        help="Also RSS per phase and the KV cache's growth vs theory, over one request of this many new tokens.",
    ),
]
ConcurrencyOpt = Annotated[
    str | None, typer.Option("--concurrency", help="Serve: requests kept in flight, per level, e.g. 1,2,4,8."), PARSED
]
RateOpt = Annotated[str | None, typer.Option("--rate", help="Serve: open-loop arrivals per second, per level."), PARSED]
ArrivalsOpt = Annotated[str, typer.Option("--arrivals", help="Serve: poisson, constant or gamma:SHAPE (seeded).")]
ServeRequestsOpt = Annotated[int, typer.Option("--requests-per-level", help="Serve: requests per load level.")]
TtftMaxOpt = Annotated[
    str | None,
    typer.Option("--ttft-max", help="Serve: TTFT SLO with its unit, e.g. 500ms or 2s (for goodput)."),
    PARSED,
]
TpotMaxOpt = Annotated[
    str | None, typer.Option("--tpot-max", help="Serve: TPOT SLO with its unit, e.g. 50ms (for goodput)."), PARSED
]
E2eMaxOpt = Annotated[
    str | None, typer.Option("--e2e-max", help="Serve: end-to-end SLO with its unit, e.g. 10s (for goodput)."), PARSED
]
MaxSeqsOpt = Annotated[
    int,
    typer.Option(
        "--max-seqs",
        min=1,
        help="Serve: sequences the continuous-batching scheduler runs together (1: one request at a time).",
    ),
]
ServeFindPeakOpt = Annotated[
    bool, typer.Option("--find-peak", help="Serve: bisect the highest arrival rate whose p99s meet the SLOs.")
]
CompressModesOpt = Annotated[
    str, typer.Option("--modes", help="Weight compression: int8, int8_sym, int4_sym, int4_asym (comma-separated).")
]
GroupSizeOpt = Annotated[int, typer.Option("--group-size", help="INT4 group size (input channels per scale).")]
RatioOpt = Annotated[float, typer.Option("--ratio", help="INT4: share of the layers in INT4 (the rest INT8).")]
CompressOutOpt = Annotated[Path, typer.Option("--out", help="Folder for the compressed models.")]
SpeedRoundsOpt = Annotated[int, typer.Option("--rounds", help="Interleaved speed rounds (every variant per round).")]
PromptTokensMaxOpt = Annotated[
    int | None, typer.Option("--prompt-tokens-max", help="Serve: prompt lengths uniform up to this (seeded).")
]
NewTokensMaxOpt = Annotated[
    int | None, typer.Option("--new-tokens-max", help="Serve: output lengths uniform up to this (seeded).")
]

# --- optimize on a decoder LLM (the generative flow) --------------------------------------------------------
LlmConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", help="LLM: requests kept in flight while the runtime is searched (4).")
]
LlmObjectiveOpt = Annotated[
    str | None, typer.Option("--objective", help="LLM: tokens (output tokens/s) or goodput (requests/s within SLOs).")
]
MinAgreementOpt = Annotated[
    str | None,
    typer.Option("--min-agreement", help="LLM: fidelity floor, next-token agreement, e.g. 90% (default)."),
    PARSED,
]
LlmPromptOpt = Annotated[int | None, typer.Option("--prompt-tokens", help="LLM: prompt length of the load (128).")]
LlmNewOpt = Annotated[int | None, typer.Option("--new-tokens", help="LLM: tokens generated per request (32).")]
LlmRequestsOpt = Annotated[
    int | None, typer.Option("--requests-per-level", help="LLM: requests per measured level (16).")
]

# --- an OpenAI-compatible endpoint (generate http://HOST:PORT/v1) ----------------------------------
ServedModelOpt = Annotated[
    str | None, typer.Option("--model", help="Endpoint: the model name to ask the server for (default: its first).")
]
EndpointApiOpt = Annotated[str, typer.Option("--api", help="Endpoint: completions or chat (both streamed).")]
TokenizerOpt = Annotated[
    str | None,
    typer.Option(
        "--tokenizer",
        help="Endpoint: the model's tokenizer (a folder with openvino_tokenizer.xml or tokenizer.json) to count "
        "streamed tokens with; default: one token per chunk, checked against the server's usage.",
    ),
]
RequestTimeoutOpt = Annotated[
    float,
    duration_option("--timeout", "Endpoint: per-request timeout, e.g. 60s."),
]
MaxErrorRateOpt = Annotated[
    str,
    typer.Option("--max-error-rate", help="Serve: stop when this share of a level's requests fail, e.g. 5%."),
    PARSED,
]
