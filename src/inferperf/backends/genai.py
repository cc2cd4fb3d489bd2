"""OpenVINO GenAI's LLMPipeline as a generative pipeline (``--backend openvino-genai``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inferperf.backends.generative import GenerativePipeline, Request, rss_reader
from inferperf.backends.precision import PrecisionRecord, plan_for
from inferperf.errors import BackendError, InputSpecError, require, runtime_cause

INSTALL_HINT = "pip install 'inferperf[genai]' (openvino-genai, openvino-tokenizers)"
MODEL_FILES = ("openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml")


def import_genai() -> Any:
    """openvino_genai, or a one-line error saying how to install it."""
    return require("openvino_genai", "backend openvino-genai is not installed", INSTALL_HINT)


def check_model_folder(path: Path) -> None:
    """A folder exported for OpenVINO GenAI: the model and its tokenizer and detokenizer as IR."""
    if not path.is_dir():
        raise InputSpecError(f"a generative model is a folder (optimum-cli export openvino ...), not {path}")
    missing = [f for f in MODEL_FILES if not (path / f).exists()]
    if missing:
        raise InputSpecError(
            f"{path} lacks {', '.join(missing)}: export it with 'optimum-cli export openvino --task "
            "text-generation-with-past' with openvino-tokenizers installed"
        )


# LLMPipeline's own default for one client: the whole prompt in one step (size_t's maximum).
UNCHUNKED = 2**64 - 1


class GenAIPipeline(GenerativePipeline):
    """An OpenVINO GenAI LLMPipeline, its load time, and its tokenizer."""

    name: ClassVar[str] = "openvino-genai"
    reports_own_metrics: ClassVar[bool] = True
    reserves_kv_cache: ClassVar[bool] = True

    @staticmethod
    def check_available() -> None:
        """Raise the install hint when openvino_genai cannot be imported."""
        import_genai()

    def __init__(
        self,
        folder: Path,
        device: str = "CPU",
        prefix_caching: bool = False,
        kv_cache: str | None = None,
        kv_cache_gb: int | None = None,
    ) -> None:
        genai = import_genai()
        check_model_folder(folder)
        self.folder, self.device = folder, device
        self._logits_model: Any = None
        scheduler = genai.SchedulerConfig()
        # A scheduler config given to LLMPipeline replaces its latency-oriented default, whose prompt is
        # never cut into chunks; SchedulerConfig() alone would cut prefill into 256-token chunks.
        scheduler.max_num_batched_tokens = UNCHUNKED
        # GenAI caches KV blocks of prompt prefixes it has seen (on in that default): a prompt that
        # repeats a prefix then skips most of its prefill (2048 tokens: TTFT 33 ms -> under 2 ms), so
        # TTFT would measure the cache, not the prefill. Off unless asked for, and recorded.
        scheduler.enable_prefix_caching = prefix_caching
        if kv_cache_gb is not None:
            # Reserved up front: its pages are first touched as tokens are written (no regrowth copies).
            scheduler.cache_size = kv_cache_gb
        self.prefix_caching = prefix_caching
        self.kv_cache = kv_cache
        self.kv_cache_gb = kv_cache_gb
        # Resolved with the device's default inference precision: an f32 cache pins f32 inference where
        # the default (bf16) would refuse it; a pair no setting makes work is refused before loading.
        self.precision = plan_for(device, kv_cache=kv_cache)
        t0 = time.perf_counter()
        try:
            self.pipe = genai.LLMPipeline(str(folder), device, scheduler_config=scheduler, **self.precision.properties)
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO GenAI could not load {folder}: {runtime_cause(exc)}") from exc
        self.load_ms = (time.perf_counter() - t0) * 1e3
        self.genai = genai
        self.tokenizer = self.pipe.get_tokenizer()

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).input_ids.data
        return [int(i) for i in np.asarray(ids).ravel()]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``."""
        return str(self.tokenizer.decode(list(ids)))

    def _request(self, ids: Sequence[int], new_tokens: int) -> tuple[Any, Any]:
        """The prompt as token ids and a greedy config of exactly ``new_tokens`` (EOS ignored)."""
        import openvino as ov

        genai = self.genai
        tensor = ov.Tensor(np.asarray([ids], dtype=np.int64))
        inputs = genai.TokenizedInputs(tensor, ov.Tensor(np.ones((1, len(ids)), dtype=np.int64)))
        config = genai.GenerationConfig()
        config.max_new_tokens = config.min_new_tokens = new_tokens
        config.ignore_eos = True
        config.do_sample = False
        return inputs, config

    def generate(self, ids: Sequence[int], new_tokens: int, trace_memory: bool = False) -> Request:
        genai = self.genai
        inputs, config = self._request(ids, new_tokens)
        streamer = _streamer(genai)
        streamer.rss = rss_reader() if trace_memory else None
        request = Request(len(ids), time.perf_counter())
        try:
            result = self.pipe.generate(inputs, config, streamer)
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO GenAI generate failed: {runtime_cause(exc)}") from exc
        request.end = time.perf_counter()
        request.token_times = streamer.times
        request.rss_bytes = streamer.rss_bytes
        request.pipeline = _perf_metrics(result.perf_metrics)
        return request

    def kv_cache_precision(self) -> tuple[str, bool]:
        """The asked precision (certain), else the device's reported default (not certain: on a 2-core AVX2
        EPYC the CPU reports u8 while the pipeline's cache grows as f16 does, measured with each set)."""
        import openvino as ov

        if self.kv_cache:
            return self.kv_cache.lower(), True
        try:
            value = ov.Core().get_property(self.device, "KV_CACHE_PRECISION")
        except RuntimeError:
            return "unknown", False
        # An ov.Type (its name: u8, f16...), or a plain string on some devices.
        return str(value.get_type_name() if hasattr(value, "get_type_name") else value).lower(), False

    def greedy_tokens(self, ids: Sequence[int], new_tokens: int) -> list[int]:
        inputs, config = self._request(ids, new_tokens)
        return [int(t) for t in self.pipe.generate(inputs, config).tokens[0]]

    def prefill_logits(self, ids: Sequence[int]) -> np.ndarray:
        """The exported model run directly (stateful: its KV state reset first), logits of the last position."""
        import openvino as ov

        if self._logits_model is None:
            # The fidelity reference: full precision, through the same resolver as every other compile.
            props = plan_for(self.device, inference="f32").properties
            compiled = ov.Core().compile_model(str(self.folder / "openvino_model.xml"), self.device, props)
            self._logits_model = compiled.create_infer_request()
        request = self._logits_model
        request.reset_state()
        n = len(ids)
        feed = {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "attention_mask": np.ones((1, n), dtype=np.int64),
            "position_ids": np.arange(n, dtype=np.int64)[None, :],
            "beam_idx": np.zeros(1, dtype=np.int32),
        }
        names = {name for port in request.model_inputs for name in port.get_names()}
        out = request.infer({k: v for k, v in feed.items() if k in names})
        logits: np.ndarray = np.asarray(out[0], dtype=np.float32)  # the export's first output: logits
        return np.asarray(logits[0, -1], dtype=np.float32)

    def precision_record(self) -> PrecisionRecord:
        """Inference and KV-cache precision as resolved for the device, with any reconciliation's note."""
        return self.precision.record()

    def weights_bytes(self) -> int | None:
        """The IR's weights file: what a decode step reads (compressed weights as stored)."""
        return (self.folder / "openvino_model.bin").stat().st_size

    def versions(self) -> dict[str, str]:
        from importlib import metadata

        out = {}
        for package in ("openvino", "openvino-genai", "openvino-tokenizers"):
            try:
                out[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                continue
        return out


def _stamps_class(genai: Any) -> type:
    class Stamps(genai.StreamerBase):
        """Takes the time of every token the pipeline hands over; keeps no text (no detokenizing cost)."""

        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self.rss: Any = None  # a reader of the process's RSS, when memory is traced
            self.rss_bytes: list[int] = []

        def write(self, token: Any) -> Any:
            now = time.perf_counter()
            count = len(token) if isinstance(token, list) else 1
            self.times.extend([now] * count)
            if self.rss is not None:
                self.rss_bytes.extend([self.rss()] * count)
            return genai.StreamingStatus.RUNNING

        def end(self) -> None:
            return None

    return Stamps


_STAMPS: dict[int, type] = {}


def _streamer(genai: Any) -> Any:
    """A fresh timestamping streamer (its class is made once: it subclasses the runtime's base)."""
    return _STAMPS.setdefault(id(genai), _stamps_class(genai))()


def _perf_metrics(metrics: Any) -> dict[str, float]:
    """The pipeline's own view of the request (ms), for the cross-check."""
    return {
        "ttft_ms": float(metrics.get_ttft().mean),
        "tpot_ms": float(metrics.get_tpot().mean),
        "generate_ms": float(metrics.get_generate_duration().mean),
        "output_tokens": float(metrics.get_num_generated_tokens()),
        "input_tokens": float(metrics.get_num_input_tokens()),
    }
