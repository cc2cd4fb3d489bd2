"""``generate``: decoder-LLM serving figures. Registered on the app in ``cli/__init__.py``."""

from __future__ import annotations

from inferperf import api
from inferperf.cli.common import command, csv_list, numbers
from inferperf.cli.options import (
    GenerateBackendsOpt,
    JsonOpt,
    LevelTimeOpt,
    LlmDeviceOpt,
    LlmModelArg,
    MinRequestsOpt,
    NewTokensOpt,
    PrefixCachingOpt,
    PromptSeedOpt,
    PromptTokensOpt,
    TextDataOpt,
)
from inferperf.report.generate_console import render_generate


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
    json_path: JsonOpt = None,
) -> None:
    """Time to first token, time per output token, inter-token gaps and tokens/s per prompt length."""
    with command(json_path) as cmd:
        options = api.GenerateOptions(
            prompt_tokens=numbers(prompt_tokens, "prompt-tokens", int) or (128,),
            new_tokens=new_tokens,
            min_requests=min_requests,
            time_s=time_s,
            seed=seed,
            prefix_caching=prefix_caching,
        )
        with cmd.status("generate") as status:
            doc = api.generate(
                model, backends=csv_list(backend), options=options, data=data, device=device, progress=status
            )
        cmd.show(doc, render_generate)
