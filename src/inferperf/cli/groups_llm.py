"""The decoder-LLM commands' flag groups (generate, llm-compress, scenario and optimize on an LLM), as in
``cli/groups.py`` (whose ``grouped`` spreads them): the prompt load, the SLOs, serving and an endpoint.

Each group is where its flags become the API's objects, so a rule (an SLO needs a unit, a flag that only
an LLM takes is refused elsewhere) is written once for every command that takes the flags.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, get_type_hints

from inferperf import api
from inferperf.cli.common import numbers
from inferperf.cli.groups import FlagGroup
from inferperf.cli.options_llm import (
    ArrivalsOpt,
    ConcurrencyOpt,
    E2eMaxOpt,
    EndpointApiOpt,
    LevelTimeOpt,
    LlmConcurrencyOpt,
    LlmDeviceOpt,
    LlmNewOpt,
    LlmObjectiveOpt,
    LlmPromptOpt,
    LlmRequestsOpt,
    MaxErrorRateOpt,
    MaxSeqsOpt,
    MinAgreementOpt,
    NewTokensMaxOpt,
    NewTokensOpt,
    PromptSeedOpt,
    PromptTokensMaxOpt,
    PromptTokensOpt,
    RateOpt,
    RequestTimeoutOpt,
    ServedModelOpt,
    ServeFindPeakOpt,
    ServeRequestsOpt,
    TextDataOpt,
    TokenizerOpt,
    TpotMaxOpt,
    TtftMaxOpt,
)
from inferperf.config import parse_fraction, parse_slo_ms
from inferperf.errors import ConfigError


def _flags(group: type[FlagGroup]) -> dict[str, str]:
    """Each field's flag as its option declares it (``--find-peak/--no-find-peak``: ``--find-peak``)."""
    hints = get_type_hints(group, include_extras=True)
    return {name: str(hint.__metadata__[0].default).split("/")[0] for name, hint in hints.items()}


def _slo(text: str | None, flag: str) -> float | None:
    return None if text is None else parse_slo_ms(text, flag)


# --- The prompt load of generate and llm-compress: --prompt-tokens, --new-tokens, --time, ... -------


@dataclass(frozen=True)
class Prompts(FlagGroup):
    """--prompt-tokens, --new-tokens, --time, --data, --seed, --device: what each request asks and where."""

    prompt_tokens: PromptTokensOpt = "128"
    new_tokens: NewTokensOpt = 64
    time_s: LevelTimeOpt = 20.0
    data: TextDataOpt = None
    seed: PromptSeedOpt = 0
    device: LlmDeviceOpt = "CPU"

    def lengths(self) -> tuple[int, ...]:
        """--prompt-tokens as numbers (a bad one is a one-line error)."""
        return tuple(numbers(self.prompt_tokens, "prompt-tokens", int) or (128,))

    def options(self, lengths: tuple[int, ...] | None = None, **knobs: Any) -> api.GenerateOptions:
        """GenerateOptions of these flags (``lengths``: the prompt lengths to keep) and the command's knobs."""
        return api.GenerateOptions(
            prompt_tokens=lengths or self.lengths(), new_tokens=self.new_tokens, time_s=self.time_s, seed=self.seed,
            **knobs,
        )  # fmt: skip


@dataclass(frozen=True)
class CompressPrompts(Prompts):
    """llm-compress's defaults: shorter outputs and levels (every variant is measured in every round)."""

    new_tokens: NewTokensOpt = 32
    time_s: LevelTimeOpt = 3.0


# --- SLOs: --ttft-max, --tpot-max (and serving's --e2e-max) -----------------------------------------


@dataclass(frozen=True)
class Slos(FlagGroup):
    """--ttft-max, --tpot-max: latency objectives, each with its unit."""

    ttft_max: TtftMaxOpt = None
    tpot_max: TpotMaxOpt = None

    def ms(self) -> tuple[float | None, float | None]:
        """TTFT and TPOT objectives in milliseconds (None: not given)."""
        return _slo(self.ttft_max, "--ttft-max"), _slo(self.tpot_max, "--tpot-max")


@dataclass(frozen=True)
class ServeSlos(Slos):
    """Serving's objectives: TTFT, TPOT and end to end."""

    e2e_max: E2eMaxOpt = None

    def e2e_ms(self) -> float | None:
        return _slo(self.e2e_max, "--e2e-max")


@dataclass(frozen=True)
class LlmLoad(Slos):
    """What scenario and optimize take only for a decoder LLM: the SLOs and the load's lengths."""

    prompt_tokens: LlmPromptOpt = None
    new_tokens: LlmNewOpt = None

    def given(self) -> list[str]:
        """The flags given, as the user wrote them."""
        flags = _flags(type(self))
        return [flags[f.name] for f in fields(self) if getattr(self, f.name) is not None]

    def refuse(self, model: str) -> None:
        """A one-line error when any of these flags is given for a model that is not a decoder LLM."""
        given = self.given()
        if given:
            raise ConfigError(
                f"{given[0]} applies to a generative model (an LLM folder or zoo:tiny-llama), not {model}"
            )


@dataclass(frozen=True)
class LlmSearch(LlmLoad):
    """optimize's generative flow: the load it searches the runtime under and its fidelity floor."""

    concurrency: LlmConcurrencyOpt = None
    objective: LlmObjectiveOpt = None
    min_agreement: MinAgreementOpt = None
    requests: LlmRequestsOpt = None

    def options(self, budget_s: float) -> api.LlmOptimizeOptions:
        """LlmOptimizeOptions of these flags: 128 prompt and 32 new tokens, 16 requests a level, 4 in flight,
        a 90% agreement floor where not given."""
        ttft, tpot = self.ms()
        serve = api.ServeOptions(
            prompt_tokens=self.prompt_tokens or 128, new_tokens=self.new_tokens or 32, requests=self.requests or 16,
            ttft_max_ms=ttft, tpot_max_ms=tpot,
        )  # fmt: skip
        floor = parse_fraction(self.min_agreement, "--min-agreement") if self.min_agreement else 0.9
        return api.LlmOptimizeOptions(
            concurrency=self.concurrency or 4, objective=self.objective or "tokens", serve=serve, budget_s=budget_s,
            min_agreement=floor,
        )  # fmt: skip


# --- Serving under load: --concurrency, --rate, --arrivals, ... -------------------------------------


@dataclass(frozen=True)
class Serving(FlagGroup):
    """The load levels of serving (continuous batching), their requests, lengths and the engine's limits."""

    concurrency: ConcurrencyOpt = None
    rate: RateOpt = None
    arrivals: ArrivalsOpt = "poisson"
    requests: ServeRequestsOpt = 32
    find_peak: ServeFindPeakOpt = False
    prompt_tokens_max: PromptTokensMaxOpt = None
    new_tokens_max: NewTokensMaxOpt = None
    max_seqs: MaxSeqsOpt = 64
    max_error_rate: MaxErrorRateOpt = "5%"

    def asked(self) -> bool:
        """Whether a serving flag asks for serving rather than one request at a time."""
        return self.concurrency is not None or self.rate is not None or self.find_peak

    def loads(self) -> tuple[api.Load, ...]:
        """--concurrency levels, then --rate levels, as the API's Load records."""
        levels = [api.Load("concurrency", c) for c in numbers(self.concurrency, "concurrency", int) or ()]
        return (*levels, *(api.Load("rate", r) for r in numbers(self.rate, "rate") or ()))

    def check(self, prompts: Prompts, slos: ServeSlos) -> None:
        """Every hand-parsed flag parsed, whichever mode runs: a bad value fails before a model loads."""
        prompts.lengths()
        self.loads()
        slos.ms()
        slos.e2e_ms()
        self.error_rate()

    def error_rate(self) -> float:
        return parse_fraction(self.max_error_rate, "--max-error-rate")

    def options(self, prompts: Prompts, slos: ServeSlos) -> api.ServeOptions:
        """ServeOptions at the first prompt length."""
        ttft, tpot = slos.ms()
        return api.ServeOptions(
            loads=self.loads() or (api.Load("concurrency", 1),), prompt_tokens=prompts.lengths()[0],
            new_tokens=prompts.new_tokens, requests=self.requests, arrivals=self.arrivals,
            prompt_tokens_max=self.prompt_tokens_max, new_tokens_max=self.new_tokens_max, seed=prompts.seed,
            ttft_max_ms=ttft, tpot_max_ms=tpot, e2e_max_ms=slos.e2e_ms(), max_num_seqs=self.max_seqs,
            max_error_rate=self.error_rate(),
        )  # fmt: skip


# --- An OpenAI-compatible endpoint: --model, --api, --tokenizer, --timeout --------------------------


@dataclass(frozen=True)
class Endpoint(FlagGroup):
    """How to talk to MODEL when it is an http://HOST:PORT/v1 endpoint."""

    served_model: ServedModelOpt = None
    api_name: EndpointApiOpt = "completions"
    tokenizer: TokenizerOpt = None
    timeout: RequestTimeoutOpt = 60.0

    def options(self, model: str) -> api.EndpointOptions | None:
        """The endpoint options when MODEL is an http:// URL; the endpoint flags refused otherwise."""
        if not api.is_endpoint(model):
            if self.served_model is not None or self.tokenizer is not None or self.api_name != "completions":
                raise ConfigError(
                    "--model, --api and --tokenizer are for an http://HOST:PORT/v1 endpoint, not a folder"
                )
            return None
        return api.EndpointOptions(
            model=self.served_model, api=self.api_name, tokenizer=self.tokenizer, timeout_s=self.timeout
        )
