"""``generate``: decoder-LLM figures, one request at a time or serving under load. Registered in ``cli/__init__.py``."""

from __future__ import annotations

from pathlib import Path

from inferperf import api
from inferperf.cli.common import command, csv_list, numbers, record_history
from inferperf.cli.groups_llm import CompressPrompts, Endpoint, Prompts, ServeSlos, Serving
from inferperf.cli.options import (
    JsonOpt,
    RecordHistoryOpt,
)
from inferperf.cli.options_llm import (
    CompressModesOpt,
    CompressOutOpt,
    GenerateBackendsOpt,
    GenerateBatchOpt,
    GroupSizeOpt,
    KvCachesOpt,
    LlmModelArg,
    MemoryTokensOpt,
    MinRequestsOpt,
    PrefixCachingOpt,
    RatioOpt,
    SpeedRoundsOpt,
)
from inferperf.errors import BackendError, ConfigError
from inferperf.report.generate_console import render_compress, render_generate, render_serving


def generate(
    model: LlmModelArg = "builtin",
    backend: GenerateBackendsOpt = "openvino-genai",
    prompts: Prompts = Prompts(),
    min_requests: MinRequestsOpt = 5,
    prefix_caching: PrefixCachingOpt = False,
    memory_tokens: MemoryTokensOpt = None,
    batches: GenerateBatchOpt = None,
    serving: Serving = Serving(),
    slos: ServeSlos = ServeSlos(),
    endpoint: Endpoint = Endpoint(),
    json_path: JsonOpt = None,
    history: RecordHistoryOpt = True,
) -> None:
    """Time to first token, time per output token, inter-token gaps and tokens/s per prompt length;
    with --concurrency/--rate, serving under load (continuous batching), goodput under SLOs. MODEL may be
    an OpenAI-compatible endpoint, http://HOST:PORT/v1: the same figures as its clients see them."""
    with command(json_path) as cmd:
        # Every flag parsed by hand first, whichever mode runs: a bad value fails before a model is loaded.
        sizes = numbers(batches, "batches", int) or ()
        serving.check(prompts, slos)
        url = endpoint.options(model)
        if serving.asked() or url is not None:
            if batches is not None:
                raise ConfigError("`batches` is a generate option; serving sets its load with concurrency or rate")
            if url is not None and csv_list(backend) != ["openvino-genai"]:
                raise ConfigError("`backend` picks an in-process runtime: an http:// endpoint is its own backend")
            if len(prompts.lengths()) > 1 or csv_list(backend) != ["openvino-genai"]:
                raise ConfigError("serving runs one `prompt_tokens` length on openvino-genai's continuous batching")
            with cmd.status("serving") as status:
                served = api.serve(
                    model, options=serving.options(prompts, slos), data=prompts.data, device=prompts.device,
                    find_peak=serving.find_peak, endpoint=url, progress=status,
                )  # fmt: skip
            cmd.show(served, render_serving)
            if served.get("stopped"):
                raise BackendError(f"the run stopped: {served['stopped']}")
            return
        options = prompts.options(
            min_requests=min_requests, prefix_caching=prefix_caching, memory_tokens=memory_tokens, batches=sizes
        )
        with cmd.status("generate") as status:
            doc = api.generate(
                model, backends=csv_list(backend), options=options, data=prompts.data, device=prompts.device,
                progress=status,
            )  # fmt: skip
        cmd.show(doc, render_generate)
        if history:
            record_history(doc, "generate")


def llm_compress(
    model: LlmModelArg = "builtin",
    modes: CompressModesOpt = "int8,int4_sym",
    kv_cache: KvCachesOpt = "",
    group_size: GroupSizeOpt = 128,
    ratio: RatioOpt = 1.0,
    out: CompressOutOpt = Path("inferperf-llm-compress"),
    prompts: CompressPrompts = CompressPrompts(),
    rounds: SpeedRoundsOpt = 3,
    json_path: JsonOpt = None,
) -> None:
    """Decoder-LLM weight compression (NNCF): fidelity on held-out text, TTFT/TPOT speed-ups interleaved."""
    with command(json_path) as cmd:
        options = prompts.options(prompts.lengths()[:1])
        with cmd.status("llm-compress") as status:
            doc = api.compress_llm(
                model, modes=csv_list(modes), kv_caches=csv_list(kv_cache), group_size=group_size, ratio=ratio,
                out=out, data=prompts.data, options=options, rounds=rounds, device=prompts.device, progress=status,
            )  # fmt: skip
        cmd.show(doc, render_compress)
