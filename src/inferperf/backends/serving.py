"""Serving engines: what measuring under load drives, whether the engine is in this process or behind HTTP.

An engine takes requests (``submit``) and hands back, on each ``step``, the tokens that became readable and
when: OpenVINO GenAI's continuous batching (``genai_serving``) runs one scheduler step in the caller's
thread; an OpenAI-compatible endpoint (``openai_http``) streams over HTTP on a thread of its own and ``step``
returns what arrived. The load generator, the rate search and the summaries (``measure/serving``) are the
same for both.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from inferperf.backends.precision import PrecisionRecord
from inferperf.errors import ConfigError

# name -> "module:Class"; each module imports its runtime (OpenVINO GenAI, aiohttp) only when made.
_REGISTRY = {
    "openvino-genai": "inferperf.backends.genai_serving:GenAIServingEngine",
    "openai-http": "inferperf.backends.openai_http:OpenAIServingEngine",
}


@dataclass(frozen=True)
class EngineSettings:
    """How an in-process continuous-batching engine is configured (an HTTP server is configured by its owner)."""

    cache_gb: float = 1.0
    max_num_seqs: int = 64
    # None: the runtime's own default (GenAI: 256 tokens per step, split-fuse on; the KV cache at the
    # device's precision)
    max_num_batched_tokens: int | None = None
    dynamic_split_fuse: bool | None = None
    kv_cache: str | None = None


@dataclass(frozen=True)
class EndpointOptions:
    """How to talk to an OpenAI-compatible endpoint: the model it serves (None: the first it lists), the
    API (``completions`` or ``chat``), the model's tokenizer to count tokens with (a folder or
    tokenizer.json; None: one token per streamed chunk) and the per-request timeout."""

    model: str | None = None
    api: str = "completions"
    tokenizer: str | None = None
    timeout_s: float = 60.0


@dataclass(frozen=True)
class TokenEvent:
    """What one request gained: ``tokens`` new tokens readable at ``stamp`` (perf_counter seconds).

    ``finished``: the request ended (``error`` set when it failed: ``timeout``, ``refused``, ``http NNN``,
    ``malformed``, ``engine``, with ``detail`` the cause). ``ids``: the tokens' ids where the engine knows
    them (in process), else empty. ``usage``: what the server said it counted (``prompt_tokens``,
    ``completion_tokens``) where it says so.
    """

    request_id: int
    tokens: int
    stamp: float
    finished: bool = False
    ids: tuple[int, ...] = ()
    error: str | None = None
    detail: str = ""
    usage: dict[str, int] | None = None


class ServingEngine(ABC):
    """A model serving many requests at once, driven by one thread that submits and steps."""

    name: ClassVar[str]
    load_ms: float = 0.0
    # Whether a request ends with exactly the new tokens asked for (in process: enforced; a server may stop
    # at EOS or its own limit, so a shorter answer is recorded, not an error).
    exact_lengths: ClassVar[bool] = True
    # Where output token counts come from: "engine" (its own ids), "tokenizer" (the model's tokenizer over
    # the streamed text), "chunks" (one token per streamed chunk, checked against the server's usage).
    token_source: str = "engine"

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (the prompt source draws consecutive runs of them)."""

    @abstractmethod
    def submit(self, request_id: int, ids: Sequence[int], new_tokens: int) -> None:
        """Start a request on exactly ``ids`` for ``new_tokens`` out (greedy, EOS ignored where it can be)."""

    @abstractmethod
    def step(self, timeout_s: float) -> list[TokenEvent]:
        """Advance: what became readable since the last call. An in-process engine runs one scheduler step
        (``timeout_s`` unused); a remote one waits up to ``timeout_s`` for at least one event."""

    @abstractmethod
    def abandon(self) -> None:
        """Drop every request in flight (a stopped level's): no event of theirs is returned afterwards."""

    def cache(self) -> dict[str, float] | None:
        """The KV cache's use over the run, where the engine reports it (None: a server's is not visible)."""
        return None

    def cache_used_bytes(self) -> float:
        """Bytes of KV cache the running sequences hold now (0 where not visible)."""
        return 0.0

    def precision_record(self) -> PrecisionRecord | None:
        """The precisions the engine runs at, where this process decides them."""
        return None

    def describe(self) -> str:
        """How a result names the engine."""
        return self.name

    def tokens_counted_by(self) -> str:
        """How the output tokens were counted, in a reader's words."""
        return "the engine's own token ids"

    def versions(self) -> dict[str, str]:
        """Package versions that decide what runs."""
        return {}

    def close(self) -> None:  # noqa: B027 - most engines hold nothing a garbage collection would not free
        """Release what the engine holds (threads, connections)."""


def serving_engine_class(name: str) -> Any:
    """The class registered as ``name``."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown serving engine {name!r}: choose from {', '.join(_REGISTRY)}")
    module_name, _, cls_name = _REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module_name), cls_name)


def is_endpoint(model: object) -> bool:
    """Whether a model argument names a served endpoint (``http://HOST:PORT/v1``) rather than files."""
    return isinstance(model, str) and model.startswith(("http://", "https://"))


__all__ = ["EndpointOptions", "EngineSettings", "ServingEngine", "TokenEvent", "is_endpoint", "serving_engine_class"]
