"""OpenVINO GenAI's ContinuousBatchingPipeline as a serving engine: one scheduler step per ``step``, which
batches every active request; every token a step produced is stamped with the step's end, the moment it
became readable."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inferperf.backends.precision import PrecisionRecord
from inferperf.backends.serving import EngineSettings, ServingEngine, TokenEvent
from inferperf.errors import BackendError, runtime_cause


class GenAIServingEngine(ServingEngine):
    """OpenVINO GenAI's ContinuousBatchingPipeline with a greedy, fixed-length config."""

    name: ClassVar[str] = "openvino-genai"

    def __init__(self, folder: Path, device: str = "CPU", settings: EngineSettings | None = None) -> None:
        from inferperf.backends.genai import check_model_folder, import_genai
        from inferperf.backends.precision import plan_for

        s = settings or EngineSettings()
        genai = import_genai()
        check_model_folder(folder)
        scheduler = genai.SchedulerConfig()
        scheduler.enable_prefix_caching = False  # repeated prefixes would skip prefills: TTFT would lie
        scheduler.cache_size = max(1, round(s.cache_gb))
        scheduler.max_num_seqs = s.max_num_seqs
        if s.max_num_batched_tokens is not None:
            scheduler.max_num_batched_tokens = s.max_num_batched_tokens
        if s.dynamic_split_fuse is not None:
            scheduler.dynamic_split_fuse = s.dynamic_split_fuse
        self.precision = plan_for(device, kv_cache=s.kv_cache)  # the one resolver every engine uses
        t0 = time.perf_counter()
        try:
            self.pipe = genai.ContinuousBatchingPipeline(str(folder), scheduler, device, self.precision.properties)
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO GenAI could not load {folder}: {runtime_cause(exc)}") from exc
        self.load_ms = (time.perf_counter() - t0) * 1e3
        self.genai = genai
        self._configs: dict[int, Any] = {}
        self._handles: dict[int, Any] = {}
        # Any status but RUNNING ends a request (FINISHED, or IGNORED/CANCEL/STOP by the pipeline): a request
        # the pipeline dropped must end, and then fails its length check, instead of hanging the run.
        self.running = genai.GenerationStatus.RUNNING
        self.tokenizer = self.pipe.get_tokenizer()

    def encode(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False).input_ids.data
        return [int(i) for i in np.asarray(ids).ravel()]

    def submit(self, request_id: int, ids: Sequence[int], new_tokens: int) -> None:
        import openvino as ov

        if new_tokens not in self._configs:
            config = self.genai.GenerationConfig()
            config.max_new_tokens = config.min_new_tokens = new_tokens
            config.ignore_eos = True
            config.do_sample = False
            self._configs[new_tokens] = config
        tensor = ov.Tensor(np.asarray([ids], dtype=np.int64))
        self._handles[request_id] = self.pipe.add_request(request_id, tensor, self._configs[new_tokens])

    def step(self, timeout_s: float = 0.0) -> list[TokenEvent]:
        if not self._handles:
            return []
        try:
            self.pipe.step()
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO GenAI step failed: {runtime_cause(exc)}") from exc
        stamp = time.perf_counter()
        events = []
        for rid, handle in list(self._handles.items()):
            ids: list[int] = []
            while handle.can_read():
                for out in handle.read().values():
                    ids.extend(int(t) for t in out.generated_ids)
            finished = handle.get_status() != self.running
            if ids or finished:
                events.append(TokenEvent(rid, len(ids), stamp, finished=finished, ids=tuple(ids)))
            if finished:
                del self._handles[rid]
        return events

    def abandon(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def cache(self) -> dict[str, float]:
        m = self.pipe.get_metrics()
        return {
            "max_cache_usage_percent": float(m.max_cache_usage),
            "avg_cache_usage_percent": float(m.avg_cache_usage),
            "allocated_mib": float(getattr(m, "kv_cache_size_in_bytes", 0)) / 2**20,
        }

    def cache_used_bytes(self) -> float:
        m = self.pipe.get_metrics()
        return float(m.cache_usage) / 100 * float(getattr(m, "kv_cache_size_in_bytes", 0))

    def precision_record(self) -> PrecisionRecord:
        return self.precision.record()

    def describe(self) -> str:
        return "openvino-genai (ContinuousBatchingPipeline)"
