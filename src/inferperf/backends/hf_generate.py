"""transformers' ``generate`` on PyTorch (CPU, float32) as a generative pipeline (``--backend transformers``).

The model folder needs the Hugging Face files beside the IR (config.json, model.safetensors, the
tokenizer): the built-in tiny model has them, so both runtimes run the same weights.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inferperf.backends.generative import GenerativePipeline, Request, rss_reader
from inferperf.errors import BackendError, InputSpecError, require, runtime_cause

INSTALL_HINT = "pip install 'inferperf[torch]' (torch==2.13.0, transformers)"


def _import() -> tuple[Any, Any]:
    message = "backend transformers is not installed"
    return require("torch", message, INSTALL_HINT), require("transformers", message, INSTALL_HINT)


class TransformersPipeline(GenerativePipeline):
    """AutoModelForCausalLM and its tokenizer, float32, greedy, one request at a time."""

    name: ClassVar[str] = "transformers"

    @staticmethod
    def check_available() -> None:
        """Raise the install hint when torch or transformers cannot be imported."""
        _import()

    def __init__(self, folder: Path, device: str = "CPU", prefix_caching: bool = False) -> None:
        torch, transformers = _import()
        if device.upper() != "CPU":
            raise InputSpecError(f"the transformers backend runs on CPU here, not {device}")
        weights = [p for p in ("model.safetensors", "pytorch_model.bin") if (folder / p).exists()]
        if not (folder / "config.json").exists() or not weights:
            raise InputSpecError(f"{folder} has no Hugging Face weights (config.json and model.safetensors)")
        self.torch = torch
        # Its progress bars and the "longer than the maximum sequence length" notice (our prompt text is
        # tokenized whole, then cut) would interleave with inferperf's own output.
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        t0 = time.perf_counter()
        try:
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                str(folder), dtype=torch.float32, local_files_only=True
            ).eval()
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise BackendError(f"transformers could not load {folder}: {runtime_cause(exc)}") from exc
        self.load_ms = (time.perf_counter() - t0) * 1e3

    def weights_bytes(self) -> int | None:
        """The parameters' bytes as loaded (fp32), a tied embedding counted once."""
        seen: dict[int, int] = {}
        for param in self.model.parameters():
            seen[param.data_ptr()] = param.numel() * param.element_size()
        return sum(seen.values())

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids)))

    def _generate(self, ids: Sequence[int], new_tokens: int, streamer: Any = None) -> Any:
        torch = self.torch
        input_ids = torch.tensor([list(ids)], dtype=torch.long)
        with torch.inference_mode():
            return self.model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,  # EOS is masked until then: the output length is fixed
                do_sample=False,
                streamer=streamer,
                pad_token_id=self.tokenizer.pad_token_id,
            )

    def generate(self, ids: Sequence[int], new_tokens: int, trace_memory: bool = False) -> Request:
        streamer = _Stamps(rss_reader() if trace_memory else None)
        request = Request(len(ids), time.perf_counter())
        try:
            self._generate(ids, new_tokens, streamer)
        except RuntimeError as exc:
            raise BackendError(f"transformers generate failed: {runtime_cause(exc)}") from exc
        request.end = time.perf_counter()
        request.token_times = streamer.times
        request.rss_bytes = streamer.rss_bytes
        return request

    def kv_cache_precision(self) -> tuple[str, bool]:
        """The model's own dtype: transformers keeps the cache in it."""
        dtype = str(self.model.dtype).removeprefix("torch.")
        return {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}.get(dtype, dtype), True

    def greedy_tokens(self, ids: Sequence[int], new_tokens: int) -> list[int]:
        out = self._generate(ids, new_tokens)
        return [int(t) for t in out[0, len(ids) :]]

    def prefill_logits(self, ids: Sequence[int]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            logits = self.model(torch.tensor([list(ids)], dtype=torch.long)).logits
        return np.asarray(logits[0, -1].float().numpy(), dtype=np.float32)

    def versions(self) -> dict[str, str]:
        import transformers

        return {"torch": str(self.torch.__version__), "transformers": str(transformers.__version__)}


class _Stamps:
    """transformers' streamer protocol: the first ``put`` is the prompt, every later one new tokens."""

    def __init__(self, rss: Any = None) -> None:
        self.times: list[float] = []
        self.rss = rss
        self.rss_bytes: list[int] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        now = time.perf_counter()
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        count = int(value.numel())
        self.times.extend([now] * count)
        if self.rss is not None:
            self.rss_bytes.extend([self.rss()] * count)

    def end(self) -> None:
        return None
