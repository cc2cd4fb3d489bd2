"""``generate``: decoder-LLM figures, one request at a time or serving under load. Registered in ``cli/__init__.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferperf import api
from inferperf.cli.common import command, csv_list, numbers, record_history
from inferperf.cli.options import (
    JsonOpt,
    RecordHistoryOpt,
)
from inferperf.cli.options_llm import (
    ArrivalsOpt,
    CompressModesOpt,
    CompressOutOpt,
    ConcurrencyOpt,
    E2eMaxOpt,
    EndpointApiOpt,
    GenerateBackendsOpt,
    GenerateBatchOpt,
    GroupSizeOpt,
    KvCachesOpt,
    LevelTimeOpt,
    LlmDeviceOpt,
    LlmModelArg,
    MaxErrorRateOpt,
    MaxSeqsOpt,
    MemoryTokensOpt,
    MinRequestsOpt,
    NewTokensMaxOpt,
    NewTokensOpt,
    PrefixCachingOpt,
    PromptSeedOpt,
    PromptTokensMaxOpt,
    PromptTokensOpt,
    RateOpt,
    RatioOpt,
    RequestTimeoutOpt,
    ServedModelOpt,
    ServeFindPeakOpt,
    ServeRequestsOpt,
    SpeedRoundsOpt,
    TextDataOpt,
    TokenizerOpt,
    TpotMaxOpt,
    TtftMaxOpt,
)
from inferperf.config import parse_fraction, parse_slo_ms
from inferperf.errors import BackendError, ConfigError
from inferperf.report.generate_console import render_compress, render_generate, render_serving


def generate(
    model: LlmModelArg = "builtin",
    backend: GenerateBackendsOpt = "openvino-genai",
    prompt_tokens: PromptTokensOpt = "128",
    new_tokens: NewTokensOpt = 64,
    time_s: LevelTimeOpt = 20.0,
    min_requests: MinRequestsOpt = 5,
    data: TextDataOpt = None,
    seed: PromptSeedOpt = 0,
    device: LlmDeviceOpt = "CPU",
    prefix_caching: PrefixCachingOpt = False,
    memory_tokens: MemoryTokensOpt = None,
    batches: GenerateBatchOpt = None,
    concurrency: ConcurrencyOpt = None,
    rate: RateOpt = None,
    arrivals: ArrivalsOpt = "poisson",
    requests: ServeRequestsOpt = 32,
    ttft_max: TtftMaxOpt = None,
    tpot_max: TpotMaxOpt = None,
    e2e_max: E2eMaxOpt = None,
    find_peak: ServeFindPeakOpt = False,
    prompt_tokens_max: PromptTokensMaxOpt = None,
    new_tokens_max: NewTokensMaxOpt = None,
    max_seqs: MaxSeqsOpt = 64,
    served_model: ServedModelOpt = None,
    api_name: EndpointApiOpt = "completions",
    tokenizer: TokenizerOpt = None,
    timeout: RequestTimeoutOpt = 60.0,
    max_error_rate: MaxErrorRateOpt = "5%",
    json_path: JsonOpt = None,
    history: RecordHistoryOpt = True,
) -> None:
    """Time to first token, time per output token, inter-token gaps and tokens/s per prompt length;
    with --concurrency/--rate, serving under load (continuous batching), goodput under SLOs. MODEL may be
    an OpenAI-compatible endpoint, http://HOST:PORT/v1: the same figures as its clients see them."""
    with command(json_path) as cmd:
        # Every flag parsed by hand first, whichever mode runs: a bad value fails before a model is loaded.
        lengths = numbers(prompt_tokens, "prompt-tokens", int) or (128,)
        sizes = numbers(batches, "batches", int) or ()
        loads = _loads(concurrency, rate)
        ttft_ms, tpot_ms, e2e_ms = (
            _slo(ttft_max, "--ttft-max"),
            _slo(tpot_max, "--tpot-max"),
            _slo(e2e_max, "--e2e-max"),
        )
        endpoint = _endpoint(model, served_model, api_name, tokenizer, timeout)
        error_rate = parse_fraction(max_error_rate, "--max-error-rate")
        if concurrency is not None or rate is not None or find_peak or endpoint is not None:
            if batches is not None:
                raise ConfigError("`batches` is a generate option; serving sets its load with concurrency or rate")
            if endpoint is not None and csv_list(backend) != ["openvino-genai"]:
                raise ConfigError("`backend` picks an in-process runtime: an http:// endpoint is its own backend")
            if len(lengths) > 1 or csv_list(backend) != ["openvino-genai"]:
                raise ConfigError("serving runs one `prompt_tokens` length on openvino-genai's continuous batching")
            options: Any = api.ServeOptions(
                loads=loads or (api.Load("concurrency", 1),), prompt_tokens=lengths[0], new_tokens=new_tokens,
                requests=requests, arrivals=arrivals, prompt_tokens_max=prompt_tokens_max,
                new_tokens_max=new_tokens_max, seed=seed, ttft_max_ms=ttft_ms, tpot_max_ms=tpot_ms, e2e_max_ms=e2e_ms,
                max_num_seqs=max_seqs, max_error_rate=error_rate,
            )  # fmt: skip
            with cmd.status("serving") as status:
                served = api.serve(
                    model, options=options, data=data, device=device, find_peak=find_peak, endpoint=endpoint,
                    progress=status,
                )  # fmt: skip
            cmd.show(served, render_serving)
            if served.get("stopped"):
                raise BackendError(f"the run stopped: {served['stopped']}")
            return
        options = api.GenerateOptions(
            prompt_tokens=lengths, new_tokens=new_tokens, min_requests=min_requests, time_s=time_s, seed=seed,
            prefix_caching=prefix_caching, memory_tokens=memory_tokens, batches=sizes,
        )  # fmt: skip
        with cmd.status("generate") as status:
            doc = api.generate(
                model, backends=csv_list(backend), options=options, data=data, device=device, progress=status
            )
        cmd.show(doc, render_generate)
        if history:
            record_history(doc, "generate")


def _endpoint(model: str, served_model: str | None, api_name: str, tokenizer: str | None, timeout: float) -> Any:
    """The endpoint options when MODEL is an http:// URL; the endpoint flags refused otherwise."""
    if not api.is_endpoint(model):
        if served_model is not None or tokenizer is not None or api_name != "completions":
            raise ConfigError("--model, --api and --tokenizer are for an http://HOST:PORT/v1 endpoint, not a folder")
        return None
    return api.EndpointOptions(model=served_model, api=api_name, tokenizer=tokenizer, timeout_s=timeout)


def _slo(text: str | None, flag: str) -> float | None:
    return None if text is None else parse_slo_ms(text, flag)


def _loads(concurrency: str | None, rate: str | None) -> tuple[Any, ...]:
    """--concurrency levels, then --rate levels, as the API's Load records."""
    levels = [api.Load("concurrency", c) for c in numbers(concurrency, "concurrency", int) or ()]
    return (*levels, *(api.Load("rate", r) for r in numbers(rate, "rate") or ()))


def llm_compress(
    model: LlmModelArg = "builtin",
    modes: CompressModesOpt = "int8,int4_sym",
    kv_cache: KvCachesOpt = "",
    group_size: GroupSizeOpt = 128,
    ratio: RatioOpt = 1.0,
    out: CompressOutOpt = Path("inferperf-llm-compress"),
    prompt_tokens: PromptTokensOpt = "128",
    new_tokens: NewTokensOpt = 32,
    time_s: LevelTimeOpt = 3.0,
    rounds: SpeedRoundsOpt = 3,
    data: TextDataOpt = None,
    seed: PromptSeedOpt = 0,
    device: LlmDeviceOpt = "CPU",
    json_path: JsonOpt = None,
) -> None:
    """Decoder-LLM weight compression (NNCF): fidelity on held-out text, TTFT/TPOT speed-ups interleaved."""
    with command(json_path) as cmd:
        lengths = numbers(prompt_tokens, "prompt-tokens", int) or (128,)
        options = api.GenerateOptions(prompt_tokens=lengths[:1], new_tokens=new_tokens, time_s=time_s, seed=seed)
        with cmd.status("llm-compress") as status:
            doc = api.compress_llm(
                model, modes=csv_list(modes), kv_caches=csv_list(kv_cache), group_size=group_size, ratio=ratio,
                out=out, data=data, options=options, rounds=rounds, device=device, progress=status,
            )  # fmt: skip
        cmd.show(doc, render_compress)
