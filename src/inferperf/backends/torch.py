"""PyTorch backend: the framework a model was trained in, as the baseline the optimized runtimes must beat.

Models: zoo entries (the torch module behind the zoo's ONNX export, built with the same seed, so the
same weights), TorchScript archives (``torch.jit.load``) and exported programs (``.pt2``,
``torch.export.load``). A checkpoint written by ``torch.save`` is opened with ``weights_only=True``
only: a pickled module could run any code on load, so it is refused.

Runtime knobs: ``threads`` (intra-op), ``inter_op_threads``, ``inference_precision=bf16`` (autocast,
only on CPUs with native bf16), and runtime properties ``torch.compile`` (eager | inductor),
``torch.compile_mode``, ``torch.channels_last`` and ``torch.inference_mode``. The ``torch-inductor``
plug-in is the same backend with ``torch.compile=inductor`` by default, so eager and compiled can
stand side by side in one ``bench`` table. Requests in flight are threads calling the module: torch
releases the GIL inside its kernels.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import psutil

from inferperf.backends.base import (
    AsyncRequests,
    Backend,
    ConfigDefaults,
    Engine,
    InputSet,
    RequestSink,
    ThreadedRequests,
    run_in_threads,
)
from inferperf.backends.jobs import StaticJob
from inferperf.config import Knob, RuntimeConfig, Scenario
from inferperf.errors import BackendError, ConfigError, InputSpecError, runtime_cause
from inferperf.model.info import ONNX, TORCH_EXPORT, TORCH_PICKLE, TORCHSCRIPT, ModelInfo
from inferperf.model.torch_files import INSTALL_HINT, import_torch, load_export, load_script, refuse_pickle

_PROPS: dict[str, tuple[str, ...]] = {
    "torch.compile": ("eager", "inductor"),
    "torch.compile_mode": ("default", "max-autotune-no-cudagraphs"),
    "torch.channels_last": ("true", "false"),
    "torch.inference_mode": ("true", "false"),
}
_NATIVE_BF16 = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags
_NATIVE_BF16_NAMES = ("AVX-512 BF16", "AMX-BF16")  # the same, as collect_environment names them


def _physical_cores() -> int:
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX-512 BF16 or AMX); elsewhere torch emulates it, slowly."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = set(text.split())
    return any(f in flags for f in _NATIVE_BF16)


@dataclass(frozen=True)
class TorchOptions:
    """The torch-specific settings, parsed and validated once from a RuntimeConfig."""

    compile: str
    compile_mode: str
    channels_last: bool
    inference_mode: bool
    autocast_bf16: bool
    threads: int
    inter_op_threads: int | None


def parse_options(config: RuntimeConfig, default_compile: str = "eager") -> TorchOptions:
    """Read ``torch.*`` properties (others belong to other runtimes) and the shared fields torch understands."""
    props = {k: v for k, v in config.properties.items() if k.startswith("torch.")}
    for key, value in props.items():
        if key not in _PROPS:
            raise ConfigError(f"unknown torch property {key!r}: choose from {', '.join(_PROPS)}")
        if value.lower() not in _PROPS[key]:
            raise ConfigError(f"invalid {key}={value!r}: expected one of {', '.join(_PROPS[key])}")
    _check_precision(config.inference_precision)
    if config.device.upper() != "CPU":
        raise ConfigError(f"torch backend runs on CPU only here, not {config.device}")
    get = {k: v.lower() for k, v in props.items()}.get
    return TorchOptions(
        compile=get("torch.compile", default_compile),
        compile_mode=get("torch.compile_mode", "default"),
        channels_last=get("torch.channels_last", "false") == "true",
        inference_mode=get("torch.inference_mode", "true") == "true",
        autocast_bf16=config.inference_precision == "bf16",
        threads=config.threads or _physical_cores(),
        inter_op_threads=config.inter_op_threads,
    )


def _check_precision(precision: str | None) -> None:
    if precision in (None, "f32"):
        return
    if precision != "bf16":
        raise ConfigError(f"torch backend runs f32 or bf16 (autocast), not {precision}")
    if not cpu_has_native_bf16():
        raise ConfigError(
            "bf16 autocast needs a CPU with native bf16 (AVX-512 BF16 or AMX); this one would emulate it, "
            "and the measurement would be of the emulation: use f32"
        )


def _set_threads(torch: Any, opts: TorchOptions) -> None:
    # Thread counts are process-wide in torch: every engine sets them, so an engine compiled after
    # another with a different count does not inherit it silently.
    torch.set_num_threads(opts.threads)
    wanted = opts.inter_op_threads
    if wanted is None or wanted == torch.get_num_interop_threads():
        return
    try:
        torch.set_num_interop_threads(wanted)
    except RuntimeError:
        raise ConfigError(
            f"torch sets inter-op threads once per process, before any parallel work; it is already "
            f"{torch.get_num_interop_threads()}, so {wanted} cannot be applied in this process"
        ) from None


@contextlib.contextmanager
def _run_context(torch: Any, opts: TorchOptions) -> Iterator[None]:
    # inference_mode and autocast are thread-local: every thread that calls the module enters them.
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode() if opts.inference_mode else torch.no_grad())
        if opts.autocast_bf16:
            stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
        yield


def _flatten(out: Any) -> list[Any]:
    """Tensors of a module's output in order: a tensor, nested tuples/lists, or a dict (ModelOutput)."""
    if hasattr(out, "detach"):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _flatten(v)]
    if isinstance(out, (tuple, list)):
        return [t for v in out for t in _flatten(v)]
    return []


# ---------------------------------------------------------------- engine


class TorchEngine(Engine):
    """A torch module (eager or compiled) with the context and input layout it runs in."""

    def __init__(
        self, module: Any, info: ModelInfo, opts: TorchOptions, phases: dict[str, float | None], extra: dict[str, Any]
    ) -> None:
        self._torch = import_torch()
        self._module = module
        self._inputs = [s.name for s in info.inputs]
        self._output_names = [s.name for s in info.outputs]
        self._opts = opts
        self._phases = phases
        self._extra = extra

    @property
    def phases_ms(self) -> dict[str, float | None]:
        return dict(self._phases)

    def tensors(self, inputs: InputSet) -> list[Any]:
        """Inputs as torch tensors in the module's argument order (channels_last where asked)."""
        try:
            arrays = [inputs[name] for name in self._inputs]
        except KeyError as exc:
            raise InputSpecError(f"no data for model input {exc.args[0]!r}") from None
        out = []
        for arr in arrays:
            t = self._torch.from_numpy(np.ascontiguousarray(arr))
            if self._opts.channels_last and t.dim() == 4 and t.is_floating_point():
                t = t.contiguous(memory_format=self._torch.channels_last)
            out.append(t)
        return out

    def call(self, args: Sequence[Any]) -> Any:
        """One forward pass, inside this engine's context (inference mode, autocast)."""
        with _run_context(self._torch, self._opts):
            return self._module(*args)

    def _named(self, out: Any) -> dict[str, np.ndarray]:
        tensors = _flatten(out)
        names = self._output_names if len(self._output_names) == len(tensors) else []
        names = names or [f"output{i}" if len(tensors) > 1 else "output" for i in range(len(tensors))]
        # bf16 has no numpy dtype; outputs are compared and reported in f32.
        return {
            n: t.detach().float().numpy() if t.dtype == self._torch.bfloat16 else t.detach().numpy()
            for n, t in zip(names, tensors, strict=True)
        }

    def infer(self, inputs: InputSet) -> dict[str, np.ndarray]:
        args = self.tensors(inputs)
        try:
            out = self.call(args)
        except Exception as exc:  # torch raises RuntimeError and many others from kernels
            raise BackendError(f"torch inference failed: {runtime_cause(exc)}") from exc
        return self._named(out)

    def default_requests(self) -> int:
        return max(1, _physical_cores() // max(1, self._opts.threads))

    def run_requests(self, input_sets: Sequence[InputSet], requests: int, sink: RequestSink) -> None:
        feeds = [self.tensors(s) for s in input_sets]
        module = self._module
        run_in_threads(
            feeds, requests, sink, lambda feed: module(*feed), "torch", lambda: _run_context(self._torch, self._opts)
        )

    def start_async(self, requests: int, on_done: Callable[[int, dict[str, np.ndarray]], None]) -> AsyncRequests:
        return ThreadedRequests(self.infer, requests, on_done, "torch")

    def effective(self) -> dict[str, Any]:
        torch = self._torch
        return {
            "intra_op_num_threads": torch.get_num_threads(),
            "inter_op_num_threads": torch.get_num_interop_threads(),
            **{k: v for k, v in asdict(self._opts).items() if k not in ("threads", "inter_op_threads")},
            "executed_precision": "bf16" if self._opts.autocast_bf16 else "f32",
            **self._extra,
        }

    def close(self) -> None:
        self._module = None


# ---------------------------------------------------------------- backend


class TorchBackend(Backend):
    """PyTorch on CPU: eager by default; ``torch.compile=inductor`` compiles with TorchInductor."""

    name: ClassVar[str] = "torch"
    install_hint: ClassVar[str] = INSTALL_HINT
    default_compile: ClassVar[str] = "eager"

    def check_available(self) -> None:
        import_torch()

    def versions(self) -> dict[str, str]:
        torch = import_torch()
        return {"torch": str(torch.__version__)}

    def supports_format(self, fmt: str) -> bool:
        # Zoo models (ONNX exports with a torch module behind them) also run; see compile.
        return fmt in (TORCHSCRIPT, TORCH_EXPORT)

    def scenario_defaults(self, scenario: Scenario) -> ConfigDefaults:
        if scenario == "throughput":
            # As with ONNX Runtime: one single-threaded forward per core beats one multi-threaded one
            # for throughput at small batches (the ops' parallel sections are short).
            return {"threads": 1, "requests": _physical_cores()}
        return {}

    def search_space(self, scenario: Scenario, cores: int, cpu_features: Sequence[str]) -> list[Knob]:
        # Inductor fuses element-wise ops into the convolutions' epilogues and removes Python
        # overhead; channels_last lets oneDNN skip layout reorders around each convolution.
        knobs = [
            Knob("threads", tuple(sorted({1, max(1, cores // 2), cores}))),
            Knob("property:torch.compile", ("eager", "inductor")),
            Knob("property:torch.channels_last", ("false", "true")),
        ]
        if set(_NATIVE_BF16_NAMES) & set(cpu_features):  # emulated bf16 elsewhere is slow and not worth trying
            knobs.append(Knob("inference_precision", (None, "bf16")))
        if scenario == "latency":
            return knobs
        return [*knobs, Knob("requests", tuple(sorted({1, cores, 2 * cores}))), Knob("batch", (1, 4, 8))]

    def _compile(self, job: StaticJob) -> Engine:
        model, shapes, config = job.model, job.shapes, job.config
        torch = import_torch()
        opts = parse_options(config, self.default_compile)
        _set_threads(torch, opts)
        t0 = time.perf_counter()
        module, source = self._read(model)
        t1 = time.perf_counter()
        job.read_done()
        module = self._prepare(torch, module, model, opts)
        extra = {"source": source, "compile_phase": _compile_note(opts)}
        if opts.compile == "inductor":
            _trigger_compile(TorchEngine(module, model, opts, {}, extra), model, shapes)
        phases: dict[str, float | None] = {"read": (t1 - t0) * 1e3, "compile": (time.perf_counter() - t1) * 1e3}
        return TorchEngine(module, model, opts, phases, extra)

    @staticmethod
    def _read(model: ModelInfo) -> tuple[Any, str]:
        """The module to run and where it came from; refuses ONNX files that are not zoo exports."""
        if model.format == TORCHSCRIPT:
            return load_script(model.path)[0], "torch.jit.load"
        if model.format == TORCH_EXPORT:
            return load_export(model.path).module(), "torch.export.load"
        if model.format == TORCH_PICKLE:
            refuse_pickle(model.path)
        zoo_name = model.metadata.get("inferperf.zoo")
        if model.format == ONNX and zoo_name:
            from inferperf.model.zoo import torch_module

            return torch_module(zoo_name), f"zoo:{zoo_name} torch module (seed 0, same weights as the export)"
        raise ConfigError(
            f"torch cannot run a {model.format} file: it runs zoo: models, TorchScript (.pt) and exported "
            "programs (.pt2); use `backend` openvino or onnxruntime"
        )

    @staticmethod
    def _prepare(torch: Any, module: Any, model: ModelInfo, opts: TorchOptions) -> Any:
        if model.format != TORCH_EXPORT:  # an exported program's module has no train/eval switch
            module = module.eval()
        if opts.channels_last:
            module = module.to(memory_format=torch.channels_last)
        if opts.compile == "eager":
            return module
        if model.format == TORCHSCRIPT:
            raise ConfigError(
                "torch.compile cannot compile a TorchScript module: export the model with torch.export (.pt2)"
            )
        return torch.compile(module, backend="inductor", mode=opts.compile_mode, dynamic=False, fullgraph=False)


def _trigger_compile(engine: TorchEngine, model: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> None:
    """torch.compile is lazy: one call at the real shapes compiles now, so compile time stays out of the runs."""
    example = {s.name: np.zeros(shapes[s.name], dtype=np.dtype(s.dtype)) for s in model.inputs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dynamo warns per graph break; the effective config says what ran
        try:
            engine.call(engine.tensors(example))
        except Exception as exc:  # dynamo/inductor raise many types (BackendCompilerFailed, ...)
            raise BackendError(f"torch.compile failed: {runtime_cause(exc)}") from exc


def _compile_note(opts: TorchOptions) -> str:
    if opts.compile == "eager":
        return "eager: compile is eval() and layout only"
    return f"torch.compile inductor mode={opts.compile_mode}, compiled by one call at the run shapes"


class TorchInductorBackend(TorchBackend):
    """The torch backend with ``torch.compile`` (inductor) on by default, to compare with eager in one run."""

    name: ClassVar[str] = "torch-inductor"
    default_compile: ClassVar[str] = "inductor"
