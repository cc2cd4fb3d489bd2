"""Generative (decoder LLM) pipelines: one interface over OpenVINO GenAI and transformers, found by name.

A pipeline takes exact prompt token ids and returns a ``Request``: the time of each generated token as
the runtime hands it over (its streamer callback), never a total divided. The measuring is
``inferperf.measure.generate``; what a runtime can do and how it is called stays here.
"""

from __future__ import annotations

import importlib
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inferperf.backends.precision import PrecisionRecord
from inferperf.errors import ConfigError

# name -> "module:Class"; each module imports its runtime only when a pipeline is made.
_REGISTRY = {
    "openvino-genai": "inferperf.backends.genai:GenAIPipeline",
    "transformers": "inferperf.backends.hf_generate:TransformersPipeline",
}


@dataclass
class Request:
    """One generate call's timestamps (perf_counter seconds) and what the pipeline said of it."""

    prompt_tokens: int
    start: float
    token_times: list[float] = field(default_factory=list)
    end: float = 0.0
    tokenization_ms: float = 0.0
    pipeline: dict[str, float] = field(default_factory=dict)
    rss_bytes: list[int] = field(default_factory=list)  # with trace_memory: the process's RSS at each token

    def figures(self) -> dict[str, float]:
        """The request's own figures, in ms and tokens/s."""
        t = self.token_times
        n = len(t)
        ttft = (t[0] - self.start) * 1e3
        decode_s = t[-1] - t[0]
        return {
            "ttft_ms": ttft,
            "ttft_with_tokenization_ms": ttft + self.tokenization_ms,
            "tpot_ms": decode_s * 1e3 / (n - 1),
            "e2e_ms": (self.end - self.start) * 1e3,
            "e2e_per_token_ms": (self.end - self.start) * 1e3 / n,
            "prefill_tokens_per_s": self.prompt_tokens / (ttft / 1e3),
            "decode_tokens_per_s": (n - 1) / decode_s if decode_s > 0 else math.inf,
            "output_tokens": float(n),
        }

    def gaps_ms(self) -> list[float]:
        """Every inter-token latency of the request."""
        return [(b - a) * 1e3 for a, b in itertools.pairwise(self.token_times)]


class GenerativePipeline(ABC):
    """A loaded model with its tokenizer, generating one request at a time."""

    name: ClassVar[str]
    load_ms: float
    # The pipeline's own per-request figures (PerfMetrics), when the runtime keeps them.
    reports_own_metrics: ClassVar[bool] = False
    # Whether its KV cache can be reserved up front (``kv_cache_gb``) instead of grown as it fills.
    reserves_kv_cache: ClassVar[bool] = False

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``."""

    @abstractmethod
    def generate(self, ids: Sequence[int], new_tokens: int, trace_memory: bool = False) -> Request:
        """One request on exactly ``ids``, exactly ``new_tokens`` out (EOS ignored, greedy), timed per token;
        with ``trace_memory`` the process's RSS is read at every token too (a few microseconds each)."""

    @abstractmethod
    def kv_cache_precision(self) -> tuple[str, bool]:
        """The element type the KV cache is kept in (``f32``, ``f16``, ``bf16``, ``u8``...), and whether that
        is known for certain (False: the device's reported default, which the pipeline may override)."""

    @abstractmethod
    def greedy_tokens(self, ids: Sequence[int], new_tokens: int) -> list[int]:
        """The greedy continuation's token ids (for the cross-check)."""

    @abstractmethod
    def prefill_logits(self, ids: Sequence[int]) -> np.ndarray:
        """The logits of the next token after ``ids`` (float32, [vocab])."""

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """Package versions that decide what runs."""

    def weights_bytes(self) -> int | None:
        """Bytes of weights one decode step reads (each weight once per token), where known."""
        return None

    def precision_record(self) -> PrecisionRecord | None:
        """The precisions the pipeline was loaded with and what was reconciled (None: the runtime decides)."""
        return None


def rss_reader() -> Any:
    """A callable returning this process's resident set size in bytes (psutil, read from /proc)."""
    import psutil

    info = psutil.Process().memory_info
    return lambda: int(info().rss)


def _pipeline_class(name: str) -> Any:
    """The class registered as ``name`` (its module imports its runtime lazily, in its methods)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown generate backend {name!r}: choose from {', '.join(_REGISTRY)}")
    module_name, _, cls_name = _REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module_name), cls_name)


def get_generative(
    name: str,
    folder: Path,
    device: str = "CPU",
    prefix_caching: bool = False,
    kv_cache: str | None = None,
    kv_cache_gb: int | None = None,
) -> GenerativePipeline:
    """The pipeline called ``name`` on the model in ``folder`` (loading it: its load time is recorded).

    ``kv_cache``: the KV cache's element type (``u8``, ``f16``, ``f32``...), where the runtime lets it be set;
    ``kv_cache_gb``: a cache of that many GB reserved up front instead of one grown as it fills (OpenVINO
    GenAI), so that the memory it holds rises with the tokens written and not with its regrowth copies.
    """
    cls = _pipeline_class(name)
    settings = {k: v for k, v in (("kv_cache", kv_cache), ("kv_cache_gb", kv_cache_gb)) if v is not None}
    pipeline: GenerativePipeline = cls(folder, device, prefix_caching, **settings)
    return pipeline


def reserves_kv_cache(name: str) -> bool:
    """Whether the backend called ``name`` can reserve its KV cache up front (``kv_cache_gb``)."""
    return bool(_pipeline_class(name).reserves_kv_cache)


def check_generative_installed(name: str) -> None:
    """Fail fast, with the install hint, when the runtime of ``name`` is missing."""
    _pipeline_class(name).check_available()


__all__ = ["GenerativePipeline", "Request", "check_generative_installed", "get_generative", "reserves_kv_cache"]
