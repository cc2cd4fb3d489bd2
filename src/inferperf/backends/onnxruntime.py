"""ONNX Runtime backend: intra/inter-op threads, execution mode, graph optimisation, requests.

Requests in flight are concurrent ``run`` calls from a thread pool: ONNX
Runtime releases the GIL inside ``run`` and one session serves concurrent
calls safely.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import psutil

from inferperf.backends.base import (
    AsyncRequests,
    Backend,
    ConfigDefaults,
    Engine,
    RequestSink,
    ThreadedRequests,
    run_in_threads,
)
from inferperf.backends.jobs import Candidates, CompileJob, InputSet, OpenJob, QuantizeJob, StaticJob
from inferperf.backends.layers import LayerInfo, LayerProfiler, LayerRun, categorize
from inferperf.config import Knob, RuntimeConfig, Scenario
from inferperf.errors import BackendError, ConfigError, InputSpecError, require, runtime_cause
from inferperf.model.info import ONNX, ModelInfo

_GRAPH_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def _physical_cores() -> int:
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


class OnnxRuntimeEngine(Engine):
    """An InferenceSession and the options it was really created with."""

    def __init__(
        self, session: Any, phases: dict[str, float | None], threads_default: int, extra: dict[str, Any]
    ) -> None:
        self._session = session
        self._extra = extra
        self._phases = phases
        self._threads_default = threads_default
        self._outputs = [o.name for o in session.get_outputs()]
        self._inputs = [i.name for i in session.get_inputs()]

    @property
    def phases_ms(self) -> dict[str, float | None]:
        return dict(self._phases)

    def _feed(self, inputs: InputSet) -> dict[str, np.ndarray]:
        try:
            return {name: inputs[name] for name in self._inputs}
        except KeyError as exc:
            raise InputSpecError(f"no data for model input {exc.args[0]!r}") from None

    def infer(self, inputs: InputSet) -> dict[str, np.ndarray]:
        try:
            outs = self._session.run(self._outputs, self._feed(inputs))
        except Exception as exc:  # ORT raises its own Fail/InvalidArgument types, all Exception
            raise BackendError(f"ONNX Runtime inference failed: {runtime_cause(exc)}") from exc
        return dict(zip(self._outputs, (np.asarray(o) for o in outs), strict=True))

    def default_requests(self) -> int:
        # ORT has no notion of an optimal request count; one per intra-op thread pool
        # that fits on the cores is the natural choice.
        opts = self._session.get_session_options()
        threads = opts.intra_op_num_threads or self._threads_default
        return max(1, _physical_cores() // max(1, threads))

    def run_requests(self, input_sets: Sequence[InputSet], requests: int, sink: RequestSink) -> None:
        feeds = [self._feed(s) for s in input_sets]
        run, outputs = self._session.run, self._outputs
        run_in_threads(feeds, requests, sink, partial(run, outputs), "ONNX Runtime")

    def start_async(self, requests: int, on_done: Callable[[int, dict[str, np.ndarray]], None]) -> AsyncRequests:
        # One session serves concurrent run() calls (it releases the GIL): a request is a thread.
        return ThreadedRequests(self.infer, requests, on_done, "ONNX Runtime")

    def effective(self) -> dict[str, Any]:
        opts = self._session.get_session_options()
        intra = opts.intra_op_num_threads
        return {
            "providers": list(self._session.get_providers()),
            "intra_op_num_threads": intra or self._threads_default,
            "intra_op_num_threads_requested": intra or "default (physical cores)",
            "inter_op_num_threads": opts.inter_op_num_threads or "default",
            "execution_mode": str(opts.execution_mode).rsplit(".", 1)[-1],
            "graph_optimization_level": str(opts.graph_optimization_level).rsplit(".", 1)[-1],
            "executed_precision": "f32",  # the CPU provider computes float models in f32 on every CPU
            **self._extra,
        }


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime with the CPU execution provider."""

    name: ClassVar[str] = "onnxruntime"
    install_hint: ClassVar[str] = "pip install onnxruntime"
    knob_labels: ClassVar[tuple[tuple[str, str], ...]] = (("intra_op_num_threads", "threads"),)

    def check_available(self) -> None:
        require("onnxruntime", "backend onnxruntime is not installed", self.install_hint)

    def versions(self) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": str(ort.__version__)}

    def supports_format(self, fmt: str) -> bool:
        return fmt == ONNX

    def _quantize(self, job: QuantizeJob) -> Candidates:
        """onnxruntime.quantization: static QDQ (u8 and/or s8 activations) or dynamic (weights only)."""
        from onnxruntime import quantization as q

        model, calibration, out_dir, options = job.model, job.calibration, job.out_dir, job.options
        if model.format != ONNX:
            raise ConfigError("onnxruntime quantizes ONNX models only")
        method = options.method if options.method != "auto" else ("dynamic" if options.transformer else "static")
        if method == "dynamic":
            dyn = out_dir / f"{model.path.stem}-int8-dynamic.onnx"
            _run_quant(
                partial(
                    q.quantize_dynamic,
                    str(model.path),
                    str(dyn),
                    weight_type=q.QuantType.QInt8,
                    nodes_to_exclude=list(options.ignored),
                )
            )
            return [(dyn, "onnxruntime dynamic int8 (weights)", {"method": "dynamic", "weights": "s8"})]
        # Which activation type runs fast depends on the CPU's kernels (VNNI favours u8 x s8), so with
        # "auto" both are produced and the caller measures them side by side.
        types = ["u8", "s8"] if options.activation_type == "auto" else [options.activation_type]
        candidates: list[tuple[Path, str, dict[str, Any]]] = []
        # ORT's own pre-processing (shape inference + graph optimisation) folds the Identity/
        # constant chains exporters leave around weights and biases; without it the quantizer
        # cannot fuse Conv+bias and the QDQ model ran 0.68x FP32 on ResNet-50 here.
        source = out_dir / f"{model.path.stem}-preprocessed.onnx"
        _run_quant(partial(q.shape_inference.quant_pre_process, str(model.path), str(source)))
        for act in types:
            path = out_dir / f"{model.path.stem}-int8-static-{act}s8.onnx"
            act_type = q.QuantType.QUInt8 if act == "u8" else q.QuantType.QInt8
            _run_quant(
                partial(
                    q.quantize_static,
                    str(source),
                    str(path),
                    _Reader(calibration[: options.subset_size]),
                    quant_format=q.QuantFormat.QDQ,
                    activation_type=act_type,
                    weight_type=q.QuantType.QInt8,
                    per_channel=True,
                    nodes_to_exclude=list(options.ignored),
                )
            )
            candidates.append(
                (
                    path,
                    f"onnxruntime static QDQ int8 ({act} activations, s8 weights)",
                    {"method": "static", "activations": act, "weights": "s8", "per_channel": True},
                )
            )
        return candidates

    def coldstart_variants(self) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        return [("session from file path", {"compile_from": "path"})], [
            "no memory-mapped weight loading for .onnx models",
            "no compiled-kernel cache: --cache-dir keeps only the graph-optimized model",
        ]

    def scenario_defaults(self, scenario: Scenario) -> ConfigDefaults:
        if scenario == "throughput":
            # One single-threaded session run per core beats one multi-threaded run
            # for throughput on small batches, as OpenVINO's streams do.
            return {"threads": 1, "requests": _physical_cores()}
        return {}

    def search_space(self, scenario: Scenario, cores: int, cpu_features: Sequence[str]) -> list[Knob]:
        # Intra-op threads x requests in flight is ORT's answer to streams; parallel execution
        # only helps graphs with independent branches, and the extended/all levels differ in
        # layout transforms that can go either way.
        threads = tuple(sorted({1, max(1, cores // 2), cores}))
        knobs = [
            Knob("threads", threads),
            Knob("execution_mode", ("sequential", "parallel")),
            Knob("graph_optimization", ("extended", "all")),
        ]
        if scenario == "latency":
            return knobs
        return [*knobs, Knob("requests", tuple(sorted({1, cores, 2 * cores}))), Knob("batch", (1, 4, 8))]

    def _options(self, config: RuntimeConfig) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if config.threads is not None:
            opts.intra_op_num_threads = config.threads
        if config.inter_op_threads is not None:
            opts.inter_op_num_threads = config.inter_op_threads
        if config.execution_mode is not None:
            opts.execution_mode = getattr(ort.ExecutionMode, f"ORT_{config.execution_mode.upper()}")
        if config.graph_optimization is not None:
            opts.graph_optimization_level = getattr(
                ort.GraphOptimizationLevel, _GRAPH_LEVELS[config.graph_optimization]
            )
        for key, value in config.properties.items():
            opts.add_session_config_entry(key, value)
        return opts

    def _compile(self, job: StaticJob) -> Engine:
        model, shapes, config = job.model, job.shapes, job.config
        import onnxruntime as ort

        self._check_request(model, config)
        self._check_static(model, shapes)
        opts = self._options(config)
        cache_state, cached = self._use_cache(model, config, opts)
        # The session must open a path itself when the model has external data (it resolves
        # the data files relative to it), when a cached optimized model is loaded, or when asked.
        by_path = cached is not None or len(model.files) > 1 or config.compile_from == "path"
        t0 = time.perf_counter()
        source: Any = str(cached or model.path) if by_path else model.path.read_bytes()
        t1 = time.perf_counter()
        if not by_path:
            job.read_done()
        try:
            session = ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types, all Exception subclasses
            raise BackendError(f"ONNX Runtime cannot create a session for {model.path}: {runtime_cause(exc)}") from exc
        t2 = time.perf_counter()
        phases: dict[str, float | None] = {
            "read": None if by_path else (t1 - t0) * 1e3,
            "compile": (t2 - t0) * 1e3 if by_path else (t2 - t1) * 1e3,
        }
        return OnnxRuntimeEngine(session, phases, _physical_cores(), {"cache": cache_state})

    def _compile_dynamic(self, job: OpenJob) -> Engine:
        """ONNX Runtime sessions take any shape the graph allows: only static dims are checked."""
        model, ranges = job.model, job.shapes
        for spec in model.inputs:
            for i, (have, want) in enumerate(zip(spec.shape, ranges[spec.name], strict=True)):
                if isinstance(have, int) and want != have:
                    raise BackendError(
                        f"onnxruntime cannot open input {spec.name!r} dim {i}: the model fixes it at {have}"
                    )
        shapes = {n: tuple(d if isinstance(d, int) else d[0] for d in dims) for n, dims in ranges.items()}
        return self._compile(CompileJob(model, shapes, job.config, job.on_phase))

    @staticmethod
    def _check_request(model: ModelInfo, config: RuntimeConfig) -> None:
        if model.format != ONNX:
            raise ConfigError(f"onnxruntime cannot load a {model.format} model: use `backend` openvino")
        if config.device.upper() != "CPU":
            raise ConfigError(f"onnxruntime backend runs on CPU only here, not {config.device}")
        if config.mmap is not None:
            raise ConfigError("onnxruntime has no switch for memory-mapped weights of .onnx models")
        if config.inference_precision not in (None, "f32"):
            raise ConfigError("onnxruntime has no inference-precision hint: convert the model itself (f16/INT8)")

    @staticmethod
    def _use_cache(model: ModelInfo, config: RuntimeConfig, opts: Any) -> tuple[str, Path | None]:
        """ORT has no compiled-kernel cache; its closest is the graph-optimized model file.

        First run: optimize and write it (``optimized_model_filepath``). Later runs: load it
        with graph optimizations off, which saves the optimization passes only.
        """
        import onnxruntime as ort

        if config.cache_dir is None:
            return "none", None
        stat = model.path.stat()
        key = f"{model.path.stem}-{stat.st_size}-{int(stat.st_mtime)}-{config.graph_optimization or 'all'}"
        cached = Path(config.cache_dir) / f"ort-optimized-{key}.onnx"
        if cached.exists():
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            return "hit: optimized model loaded, graph optimizations skipped", cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        opts.optimized_model_filepath = str(cached)
        return "miss: optimized model written", None

    @staticmethod
    def _check_static(model: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> None:
        # ORT cannot reshape a model: a static dimension must match the requested one.
        for spec in model.inputs:
            want = shapes[spec.name]
            for i, (have, new) in enumerate(zip(spec.shape, want, strict=True)):
                if isinstance(have, int) and have != new:
                    raise BackendError(
                        f"onnxruntime cannot reshape input {spec.name!r} dim {i} from {have} to {new} "
                        "(the model is static there; export it with a dynamic dimension or use openvino)"
                    )

    def profile_layers(
        self, model: ModelInfo, shapes: dict[str, tuple[int, ...]], config: RuntimeConfig
    ) -> LayerProfiler:
        """A session with ORT's profiler on; its JSON trace is split per run into per-node kernel times."""
        import tempfile

        import onnxruntime as ort

        self._check_request(model, config)
        self._check_static(model, shapes)
        opts = self._options(config)
        workdir = tempfile.TemporaryDirectory(prefix="inferperf-ort-profile-")
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(workdir.name) / "trace")
        t0 = time.perf_counter()
        try:
            session = ort.InferenceSession(str(model.path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types, all Exception subclasses
            workdir.cleanup()
            raise BackendError(f"ONNX Runtime cannot create a session for {model.path}: {runtime_cause(exc)}") from exc
        phases: dict[str, float | None] = {"read": None, "compile": (time.perf_counter() - t0) * 1e3}
        engine = OnnxRuntimeEngine(session, phases, _physical_cores(), {"profiling": "enabled"})
        return OnnxRuntimeLayerProfiler(engine, session, workdir)


class _Reader:
    """A calibration data reader over input sets (onnxruntime.quantization's protocol)."""

    def __init__(self, sets: Sequence[InputSet]) -> None:
        self._it = iter(sets)

    def get_next(self) -> InputSet | None:
        return next(self._it, None)

    def rewind(self) -> None:  # pragma: no cover - ORT calls it for some calibration methods only
        raise NotImplementedError


def _run_quant(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception as exc:  # the quantizer raises many types; all mean "cannot quantize this model"
        raise BackendError(f"ONNX Runtime quantization failed: {runtime_cause(exc)}") from exc


# ORT's profiler names element types as in its type strings; integer inputs to a compute op mean INT8 kernels.
_ORT_PRECISIONS = {
    "float": "f32",
    "double": "f64",
    "float16": "f16",
    "bfloat16": "bf16",
    "int8": "int8",
    "uint8": "int8",
    "int32": "i32",
    "int64": "i64",
    "bool": "bool",
}
_ORT_INT8_OPS = ("QLinear", "Integer", "QGemm", "QAttention", "DynamicQuantize", "QEmbed")


def ort_precision(op_name: str, args: dict[str, Any]) -> str:
    """The precision a node ran in: integer op kernels are INT8; otherwise its first input's type."""
    if any(tag in op_name for tag in _ORT_INT8_OPS):
        return "int8"
    shapes = args.get("input_type_shape") or []
    first = next(iter(shapes[0]), None) if shapes and isinstance(shapes[0], dict) else None
    return _ORT_PRECISIONS.get(str(first), "unknown")


def split_trace(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Node kernel events of an ORT profile, grouped per ``model_run`` (one group per session.run, in order)."""
    import bisect

    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"), key=_ts)
    starts = [_ts(r) for r in runs]
    groups: list[list[dict[str, Any]]] = [[] for _ in runs]
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        i = bisect.bisect_right(starts, _ts(e)) - 1
        if i >= 0 and _ts(e) <= starts[i] + int(runs[i].get("dur", 0)):
            groups[i].append(e)
    return groups


def _ts(event: dict[str, Any]) -> int:
    return int(event.get("ts", 0))


class OnnxRuntimeLayerProfiler(LayerProfiler):
    """session.run calls timed by wall clock; ORT's trace gives each run's node kernel times."""

    def __init__(self, engine: OnnxRuntimeEngine, session: Any, workdir: Any) -> None:
        self._engine = engine
        self._session = session
        self._workdir = workdir
        self._kept: list[bool] = []  # per session.run call, in order: recorded or not
        self._latency: list[float] = []
        self._first = float("nan")

    def _timed(self, feed: dict[str, np.ndarray]) -> float:
        t0 = time.perf_counter()
        try:
            self._session.run(None, feed)
        except Exception as exc:  # ORT raises its own Fail/InvalidArgument types, all Exception
            raise BackendError(f"ONNX Runtime inference failed: {runtime_cause(exc)}") from exc
        return (time.perf_counter() - t0) * 1e3

    def first_inference(self, inputs: InputSet) -> float:
        self._first = self._timed(self._engine._feed(inputs))
        self._kept.append(False)
        return self._first

    def run(self, input_sets: Sequence[InputSet], iterations: int, *, record: bool = True) -> None:
        feeds = [self._engine._feed(s) for s in input_sets]
        for k in range(iterations):
            ms = self._timed(feeds[k % len(feeds)])
            self._kept.append(record)
            if record:
                self._latency.append(ms)

    def _trace(self) -> list[dict[str, Any]]:
        import json

        path = Path(self._session.end_profiling())
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot read ONNX Runtime's profile {path}: {exc}") from exc
        return list(data) if isinstance(data, list) else list(data.get("traceEvents", []))

    def result(self) -> LayerRun:
        groups = self._trace_groups()
        layers: dict[str, LayerInfo] = {}
        rows: list[dict[str, float]] = []
        for group, kept in zip(groups, self._kept, strict=True):
            if not kept:
                continue
            row: dict[str, float] = {}
            for e in group:
                name = str(e["name"])[: -len("_kernel_time")]
                if name not in layers:
                    layers[name] = _ort_layer(name, e.get("args") or {})
                row[name] = row.get(name, 0.0) + float(e.get("dur", 0)) / 1e3
            rows.append(row)
        names = list(layers)
        return LayerRun(
            backend="onnxruntime",
            layers=tuple(layers[n] for n in names),
            times_ms=[[row.get(n, 0.0) for n in names] for row in rows],
            block_sizes=[1] * len(rows),
            latency_ms=list(self._latency),
            latency_source="wall time of session.run (includes Python call and output conversion)",
            first_inference_ms=self._first,
            effective=self._engine.effective(),
            notes=(
                "node times are ORT's kernel times; graph optimization has already fused nodes, so names are "
                "ORT's fused names",
            ),
        )

    def _trace_groups(self) -> list[list[dict[str, Any]]]:
        groups = split_trace(self._trace())
        if len(groups) != len(self._kept):
            raise BackendError(
                f"ONNX Runtime's profile holds {len(groups)} runs but {len(self._kept)} were made "
                "(its profiler stops at its event limit: profile fewer iterations)"
            )
        return groups

    def close(self) -> None:
        self._engine.close()
        self._workdir.cleanup()


def _ort_layer(name: str, args: dict[str, Any]) -> LayerInfo:
    op_name = str(args.get("op_name", "?"))
    return LayerInfo(
        name=name,
        op_type=op_name,
        kernel=op_name,
        precision=ort_precision(op_name, args),
        provider=str(args.get("provider", "?")),
        category=categorize(op_name),
        slow_path=None,
    )
