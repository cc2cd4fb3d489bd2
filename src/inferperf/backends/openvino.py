"""OpenVINO backend: hints, streams, threads, requests, precision, cache, pinning.

The throughput loop mirrors OpenVINO's own benchmark_app (wait for an idle
request, read its runtime-measured latency, set the next input tensors,
start it), so the harness costs what benchmark_app costs and no more.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inferperf.backends.base import (
    AsyncRequests,
    Backend,
    ConfigDefaults,
    DimBound,
    Engine,
    InputSet,
    RequestSink,
)
from inferperf.backends.jobs import Candidates, OpenJob, QuantizeJob, StaticJob
from inferperf.backends.layers import LayerProfiler
from inferperf.backends.openvino_loop import QueuedRequests, SelfRestarting
from inferperf.backends.precision import (
    FLOAT_PRECISIONS,
    KV_CACHE_TYPES,
    PrecisionPlan,
    device_precisions,
    resolve_precisions,
    short_type,
)
from inferperf.config import Knob, RuntimeConfig, Scenario
from inferperf.errors import BackendError, ConfigError, InputSpecError, require, runtime_cause
from inferperf.model.flops import FlopCount
from inferperf.model.info import ONNX, OPENVINO_IR, ModelInfo

_READ_BACK = (
    "PERFORMANCE_HINT",
    "NUM_STREAMS",
    "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
    "INFERENCE_NUM_THREADS",
    "INFERENCE_PRECISION_HINT",
    "ENABLE_CPU_PINNING",
    "EXECUTION_MODE_HINT",
    "CACHE_DIR",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "get_type_name"):  # openvino.Type: "f32", "bf16", ...
        return str(value.get_type_name())
    name = getattr(value, "name", None)  # OpenVINO enums (PerformanceMode, ...)
    return name if isinstance(name, str) else str(value)


def _short_precision(value: Any) -> str:
    """``f32``/``bf16``/``f16`` from what OpenVINO reads back (a type name; f32 when it says nothing)."""
    return short_type(value)


def build_properties(config: RuntimeConfig) -> dict[str, Any]:
    """The compile properties a RuntimeConfig asks of OpenVINO (hint ``none`` sets no hint); the precision
    ones as :func:`resolve_precisions` decides them for the device, with any --property precision."""
    props: dict[str, Any] = {}
    if config.hint and config.hint != "none":
        props["PERFORMANCE_HINT"] = config.hint.upper()
    if config.streams is not None:
        props["NUM_STREAMS"] = str(config.streams)
    if config.threads is not None:
        props["INFERENCE_NUM_THREADS"] = config.threads
    if config.cache_dir is not None:
        props["CACHE_DIR"] = config.cache_dir
    if config.pinning is not None:
        props["ENABLE_CPU_PINNING"] = config.pinning
    extra = dict(config.properties)
    props.update(extra)
    props.update(precision_plan(config, extra).properties)
    return props


def precision_plan(config: RuntimeConfig, properties: Mapping[str, Any] | None = None) -> PrecisionPlan:
    """The precision plan of a compile: --infer-precision, or INFERENCE_PRECISION_HINT / KV_CACHE_PRECISION /
    EXECUTION_MODE_HINT given as properties (values the resolver does not know go to the runtime as given)."""
    props = dict(config.properties if properties is None else properties)
    inference = config.inference_precision or _known(props.get("INFERENCE_PRECISION_HINT"), FLOAT_PRECISIONS)
    kv_cache = _known(props.get("KV_CACHE_PRECISION"), KV_CACHE_TYPES)
    mode = props.get("EXECUTION_MODE_HINT")
    return resolve_precisions(device_precisions(config.device), inference, kv_cache, str(mode) if mode else None)


def _known(value: Any, choices: tuple[str, ...]) -> str | None:
    text = short_type(value) if value is not None else None
    return text if text in choices else None


class OpenVINOEngine(Engine):
    """A CompiledModel plus the request used for single inferences."""

    def __init__(
        self,
        compiled: Any,
        phases: dict[str, float | None],
        requested: dict[str, Any],
        model: ModelInfo,
    ) -> None:
        self._compiled = compiled
        self._phases = phases
        self._requested = requested
        self._request = compiled.create_infer_request()
        self._pool: list[Any] = []  # closed-loop requests (run_requests), kept for the engine's life
        self._inputs = [_port_name(p, {s.name for s in model.inputs}) for p in compiled.inputs]
        known = {s.name for s in model.outputs}
        self._outputs = [
            _port_name(p, known) if p.get_names() else f"output_{i}" for i, p in enumerate(compiled.outputs)
        ]

    @property
    def phases_ms(self) -> dict[str, float | None]:
        return dict(self._phases)

    def _tensors(self, inputs: InputSet) -> dict[int, Any]:
        import openvino as ov

        try:
            # Keyed by input index: the list form of set_input_tensors means "one batched input".
            return {
                i: ov.Tensor(np.ascontiguousarray(inputs[name]), shared_memory=True)
                for i, name in enumerate(self._inputs)
            }
        except KeyError as exc:
            raise InputSpecError(f"no data for model input {exc.args[0]!r}") from None

    def infer(self, inputs: InputSet) -> dict[str, np.ndarray]:
        try:
            self._request.set_input_tensors(self._tensors(inputs))
            self._request.infer()
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO inference failed: {runtime_cause(exc)}") from exc
        return {name: np.array(self._request.get_output_tensor(i).data) for i, name in enumerate(self._outputs)}

    def default_requests(self) -> int:
        """Twice OpenVINO's OPTIMAL_NUMBER_OF_INFER_REQUESTS: a second request queued behind each one.

        The optimum assumes a host that restarts a request the instant it completes. From Python the
        restart waits for this thread to be woken and scheduled, on a machine whose cores the streams
        keep busy, and a stream idles meanwhile. Measured on 2 cores, 2 streams (issue 22): built-in
        model 468-522 -> 569-652 inferences/s with 4 requests instead of 2, and OpenVINO's own Python
        benchmark_app the same with -nireq 4; a 6-conv stack 111-120 -> 137.
        """
        return 2 * int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def executors(self, requests: int) -> int:
        """The streams: each runs one request at a time, further requests wait for a free stream."""
        try:
            streams = int(self._compiled.get_property("NUM_STREAMS"))
        except (RuntimeError, TypeError, ValueError):
            return requests
        return max(1, min(requests, streams))

    def run_requests(self, input_sets: Sequence[InputSet], requests: int, sink: RequestSink) -> None:
        tensors = [self._tensors(s) for s in input_sets]
        if requests == 1:
            self._run_one(tensors, sink)
            return
        pool = self._pooled(requests)
        # Each request keeps one input set, bound once: re-binding on every start cost ~8 us of this
        # thread per inference, and on a sub-millisecond model this thread's pace is the throughput
        # (0.07 ms MLP, 2 requests: 9.9k -> 10.8k inferences/s). Requests cycle over the sets.
        for i, request in enumerate(pool):
            request.set_input_tensors(tensors[i % len(tensors)])
        SelfRestarting(pool, sink).run()

    def _pooled(self, requests: int) -> list[Any]:
        """The engine's own requests for closed loops, created once: a request released on a runtime thread
        would destroy it there (see ``Relay``), so none goes before the engine."""
        while len(self._pool) < requests:
            self._pool.append(self._compiled.create_infer_request())
        return self._pool[:requests]

    def _run_one(self, tensors: Sequence[dict[int, Any]], sink: RequestSink) -> None:
        """One request in flight: synchronous ``infer()`` in a plain loop, one request per input set.

        Measured on a 0.07 ms MLP (issue 22): start_async + wait spends ~20 us per inference handing the
        completion back to this thread (busy fraction 0.75; benchmark_app's async loop is no better),
        a sync call ~1 us (0.98); re-binding the next input set with set_input_tensors costs another
        ~8 us (0.88), so each set is bound once to its own request and the loop rotates requests. The
        latency recorded is the call's duration on this thread: what a synchronous caller waits.
        """
        requests = [self._request, *(self._compiled.create_infer_request() for _ in tensors[1:])]
        for request, bound in zip(requests, tensors, strict=True):
            request.set_input_tensors(bound)
        record, stop, clock = sink.record, sink.should_stop, time.perf_counter
        n, k = len(requests), 0
        try:
            while not stop():
                run = requests[k % n].infer
                start = clock()
                run(share_outputs=True)  # outputs stay in the request: no copy on the timed path
                done = clock()
                record(done, (done - start) * 1e3)
                k += 1
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO inference failed: {runtime_cause(exc)}") from exc

    def start_async(self, requests: int, on_done: Callable[[int, dict[str, np.ndarray]], None]) -> AsyncRequests:
        return QueuedRequests(self._compiled, self._outputs, self._tensors, requests, on_done)

    def effective(self) -> dict[str, Any]:
        out: dict[str, Any] = {"device": self._requested.get("device"), "requested_properties": self._requested}
        for key in _READ_BACK:
            try:
                out[key] = _jsonable(self._compiled.get_property(key))
            except RuntimeError:
                continue  # not every device or version exposes every key
        # The float precision the plug-in chose: bf16 by default on AMX / AVX-512 BF16 CPUs.
        out["executed_precision"] = _short_precision(out.get("INFERENCE_PRECISION_HINT"))
        return out


class OpenVINOBackend(Backend):
    """OpenVINO Runtime, any device OpenVINO sees (CPU here)."""

    name: ClassVar[str] = "openvino"
    install_hint: ClassVar[str] = "pip install openvino"
    precision_property: ClassVar[str | None] = "INFERENCE_PRECISION_HINT"
    bounded_dims: ClassVar[bool] = True
    knob_labels: ClassVar[tuple[tuple[str, str], ...]] = (
        ("NUM_STREAMS", "streams"),
        ("INFERENCE_NUM_THREADS", "threads"),
        ("PERFORMANCE_HINT", "hint"),
        ("INFERENCE_PRECISION_HINT", "prec"),
    )

    def check_available(self) -> None:
        require("openvino", "backend openvino is not installed", self.install_hint)

    def versions(self) -> dict[str, str]:
        import openvino as ov

        return {"openvino": str(ov.get_version())}

    def supports_format(self, fmt: str) -> bool:
        return fmt in (ONNX, OPENVINO_IR)

    def _quantize(self, job: QuantizeJob) -> Candidates:
        """NNCF post-training quantization; with labels, also NNCF's accuracy-controlled variant."""
        import openvino as ov

        nncf = require("nncf", "OpenVINO quantization needs NNCF", "pip install nncf")
        model, calibration, out_dir, options, labels = job.model, job.calibration, job.out_dir, job.options, job.labels
        if options.method == "dynamic":
            raise ConfigError("OpenVINO quantization is static (NNCF); use --method static or auto")
        core = ov.Core()
        names = [_port_name(p, {s.name for s in model.inputs}) for p in core.read_model(str(model.path)).inputs]
        # Items carry their label (or None); NNCF feeds only the inputs, the validation function sees both.
        items = [(s, None if labels is None else int(labels[i])) for i, s in enumerate(calibration)]
        dataset = nncf.Dataset(items, lambda item: {n: item[0][n] for n in names})
        kwargs: dict[str, Any] = {
            "preset": getattr(nncf.QuantizationPreset, options.preset.upper()),
            "subset_size": min(options.subset_size, len(calibration)),
        }
        if options.transformer:
            kwargs["model_type"] = nncf.ModelType.TRANSFORMER
        if options.ignored:
            kwargs["ignored_scope"] = nncf.IgnoredScope(names=list(options.ignored), validate=False)
        details = {
            "tool": f"nncf {nncf.__version__}",
            "preset": options.preset,
            "subset_size": kwargs["subset_size"],
            "transformer": options.transformer,
        }
        out = [
            self._nncf(
                lambda m: nncf.quantize(m, dataset, **kwargs),
                core,
                model,
                out_dir,
                "nncf",
                "openvino nncf int8",
                details,
            )
        ]
        if options.accuracy_control and labels is not None:

            def validate(compiled: Any, data: Any) -> tuple[float, list[float]]:
                hits = [float(np.argmax(compiled({n: x[n] for n in names})[0]) == y) for x, y in data]
                return float(np.mean(hits)), hits

            control = partial(
                nncf.quantize_with_accuracy_control,
                calibration_dataset=dataset,
                validation_dataset=dataset,
                validation_fn=validate,
                max_drop=options.max_drop,
                **kwargs,
            )
            out.append(
                self._nncf(
                    control,
                    core,
                    model,
                    out_dir,
                    "nncf-ac",
                    "openvino nncf int8 (accuracy control)",
                    {
                        **details,
                        "accuracy_control_max_drop": options.max_drop,
                        "validated_on": "the calibration samples (the guard keeps its own held-out set)",
                    },
                )
            )
        return out

    @staticmethod
    def _nncf(
        run: Callable[[Any], Any],
        core: Any,
        model: ModelInfo,
        out_dir: Path,
        tag: str,
        label: str,
        details: dict[str, Any],
    ) -> tuple[Path, str, dict[str, Any]]:
        import openvino as ov

        try:
            quantized = run(core.read_model(str(model.path)))
        except Exception as exc:  # NNCF raises many types; all mean the model could not be quantized
            raise BackendError(f"NNCF quantization failed: {runtime_cause(exc)}") from exc
        path = out_dir / f"{model.path.stem}-int8-{tag}.xml"
        ov.save_model(quantized, str(path))
        return path, label, details

    def sparse_weight_properties(self, sparsity: float) -> dict[str, str] | None:
        # Layers whose weight sparsity exceeds the rate are decompressed sparse (INT8 FC layers on CPU).
        return {"CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE": f"{max(0.0, sparsity - 0.05):.2f}"}

    def memory_variants(self, base: RuntimeConfig, cores: int) -> list[tuple[str, RuntimeConfig]]:
        # Each stream holds its own intermediate buffers: memory grows with streams.
        streams = [(f"streams {n}", base.with_(hint="throughput", streams=n)) for n in range(1, cores + 1)]
        return super().memory_variants(base, cores) + streams

    def coldstart_variants(self) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        return [
            ("compile from file path", {"compile_from": "path"}),
            ("memory-mapped weights off", {"mmap": False}),
        ], []

    def scenario_defaults(self, scenario: Scenario) -> ConfigDefaults:
        # Like benchmark_app: the scenario picks the matching performance hint.
        return {"hint": scenario}

    def search_space(self, scenario: Scenario, cores: int, cpu_features: Sequence[str]) -> list[Knob]:
        # Streams split the cores into independent executors, so only divisors-ish of the core
        # count make sense; None lets the hint decide. Denormal flushing matters for models with
        # tiny weights or activations (randomly initialised ones especially) and costs nothing else.
        knobs = [
            Knob("pinning", (True, False)),
            Knob("property:CPU_DENORMALS_OPTIMIZATION", (None, "YES")),
        ]
        if {"AVX-512 BF16", "AMX-BF16"} & set(cpu_features):  # bf16 is emulated (slow) elsewhere
            knobs.append(Knob("inference_precision", (None, "bf16")))
        if scenario == "latency":
            threads = tuple(sorted({1, max(1, cores // 2), cores}))
            return [Knob("threads", (None, *threads)), *knobs]
        streams = tuple(sorted({1, max(1, cores // 2), cores}))
        return [
            Knob("streams", (None, *streams)),
            Knob("requests", (None, 2 * cores)),
            Knob("batch", (1, 4, 8)),
            *knobs,
        ]

    def _compile(self, job: StaticJob) -> Engine:
        config = job.config
        core, props = _core(config), build_properties(config)
        if config.compile_from == "path":
            compiled, phases = self._compile_path(core, job.model, job.shapes, config, props)
        else:
            compiled, phases = self._compile_memory(core, job, props)
        requested = {"device": config.device, **{k: _jsonable(v) for k, v in props.items()}}
        requested.update({"compile_from": config.compile_from or "memory", "ENABLE_MMAP": config.mmap})
        return OpenVINOEngine(compiled, phases, requested, job.model)

    def _compile_memory(
        self, core: Any, job: StaticJob | OpenJob, props: dict[str, Any]
    ) -> tuple[Any, dict[str, float | None]]:
        t0 = time.perf_counter()
        try:
            ov_model = core.read_model(str(job.model.path))
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO cannot read {job.model.path}: {runtime_cause(exc)}") from exc
        t1 = time.perf_counter()
        job.read_done()
        self._reshape(ov_model, job.shapes)
        t2 = time.perf_counter()
        compiled = _compile(core, ov_model, job.config.device, props)
        t3 = time.perf_counter()
        phases: dict[str, float | None] = {"read": (t1 - t0) * 1e3, "compile": (t3 - t2) * 1e3}
        if (t2 - t1) > 0.0005:
            phases["reshape"] = (t2 - t1) * 1e3
        return compiled, phases

    @staticmethod
    def _compile_path(
        core: Any, model: ModelInfo, shapes: dict[str, tuple[int, ...]], config: RuntimeConfig, props: dict[str, Any]
    ) -> tuple[Any, dict[str, float | None]]:
        # compile_model(path) lets a warm CACHE_DIR skip reading the model at all, but it
        # cannot reshape: the file's shapes must already be the run's.
        for spec in model.inputs:
            if tuple(spec.shape) != tuple(shapes[spec.name]):
                raise ConfigError(
                    f"compiling from a path needs static input shapes equal to the run's; input {spec.name!r} "
                    f"is {spec.shape_text()}, the run wants {list(shapes[spec.name])} (export it static, or "
                    "compile from memory)"
                )
        t0 = time.perf_counter()
        compiled = _compile(core, str(model.path), config.device, props)
        return compiled, {"read": None, "compile": (time.perf_counter() - t0) * 1e3}

    def count_macs(self, model: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> FlopCount | None:
        """Count on OpenVINO's graph: its shape propagation and constant folding resolve shapes
        that ONNX shape inference leaves open (computed Pad widths, Reshape targets, ...)."""
        import openvino as ov

        try:
            ov_model = ov.Core().read_model(str(model.path))
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO cannot read {model.path}: {runtime_cause(exc)}") from exc
        self._reshape(ov_model, shapes)
        by_op: dict[str, int] = {}
        unresolved: list[str] = []
        params = 0
        for op in ov_model.get_ordered_ops():
            kind = op.get_type_name()
            if kind == "Constant" and op.get_output_element_type(0).is_real():
                params += math.prod(op.get_output_shape(0))
                continue
            macs = _ov_op_macs(op, kind)
            if macs is None:
                unresolved.append(op.get_friendly_name())
            elif macs:
                by_op[kind] = by_op.get(kind, 0) + macs
        return FlopCount(sum(by_op.values()), params, by_op, tuple(unresolved))

    def _compile_dynamic(self, job: OpenJob) -> Engine:
        """Reshape to a PartialShape: an interval Dimension(low, high) where bounded, -1 where unbounded."""
        config, ranges = job.config, job.shapes
        if config.compile_from == "path":
            raise ConfigError("open dimensions need compiling from memory (the model is reshaped first)")
        props = build_properties(config)
        compiled, phases = self._compile_memory(_core(config), job, props)
        requested = {"device": config.device, **{k: _jsonable(v) for k, v in props.items()}}
        requested["input_ranges"] = {k: [list(d) if isinstance(d, tuple) else d for d in v] for k, v in ranges.items()}
        return OpenVINOEngine(compiled, phases, requested, job.model)

    @staticmethod
    def _partial(shape: Sequence[DimBound]) -> Any:
        import openvino as ov

        dims = []
        for d in shape:
            if isinstance(d, int):
                dims.append(ov.Dimension(d))
            elif d[1] is None:
                dims.append(ov.Dimension(-1))
            else:
                dims.append(ov.Dimension(d[0], d[1]))
        return ov.PartialShape(dims)

    @classmethod
    def _reshape(cls, ov_model: Any, shapes: Mapping[str, Sequence[DimBound]]) -> None:
        wanted: dict[Any, Any] = {}
        for port in ov_model.inputs:
            name = _port_name(port, shapes)
            shape = shapes.get(name)
            if shape is None:
                raise InputSpecError(f"no shape resolved for OpenVINO input {name!r}")
            ps = port.get_partial_shape()
            static = all(isinstance(d, int) for d in shape)
            if not static or ps.is_dynamic or tuple(ps.to_shape()) != tuple(shape):
                wanted[port] = cls._partial(shape)
        if not wanted:
            return
        try:
            ov_model.reshape(wanted)
        except RuntimeError as exc:
            raise BackendError(
                f"OpenVINO cannot reshape the model to {_shape_text(shapes)}: {runtime_cause(exc)}"
            ) from exc

    def profile_layers(
        self, model: ModelInfo, shapes: dict[str, tuple[int, ...]], config: RuntimeConfig
    ) -> LayerProfiler:
        """Compile with PERF_COUNT on; each inference's ``get_profiling_info`` becomes one row of layer times."""
        engine = self.compile(model, shapes, config.with_(properties={**config.properties, "PERF_COUNT": "YES"}))
        if not isinstance(engine, OpenVINOEngine):  # pragma: no cover - compile always builds one
            raise BackendError("OpenVINO compile returned an unexpected engine")
        from inferperf.backends.openvino_profile import OpenVINOLayerProfiler

        device = str(engine._requested.get("device", "CPU"))
        return OpenVINOLayerProfiler(engine, engine._request, engine._tensors, device)


def _compile(core: Any, source: Any, device: str, props: dict[str, Any]) -> Any:
    try:
        return core.compile_model(source, device, props)
    except RuntimeError as exc:
        raise BackendError(f"OpenVINO cannot compile the model on {device}: {runtime_cause(exc)}") from exc


def _port_name(port: Any, known: Any) -> str:
    # A tensor can carry several names (OpenVINO merges the names of eliminated no-op nodes
    # into the input's tensor), and get_any_name() may pick an internal one.
    names = port.get_names()
    return str(next((n for n in sorted(names) if n in known), port.get_any_name()))


def _ov_op_macs(op: Any, kind: str) -> int | None:
    """MACs of one OpenVINO op (0 for ops that are not counted, None when shapes are dynamic)."""
    if kind not in _COUNTED:
        return 0
    shapes = [op.input_value(i).get_partial_shape() for i in range(2)] + [op.get_output_partial_shape(0)]
    if any(s.is_dynamic for s in shapes):
        return None
    x, w, out = (tuple(int(d) for d in s.to_shape()) for s in shapes)
    if kind == "MatMul":
        transpose_a = bool(op.get_attributes().get("transpose_a", False))
        return math.prod(out) * (x[-2] if transpose_a and len(x) > 1 else x[-1])
    # Convolutions: weights [Cout, Cin, k...], grouped [G, Cout/G, Cin/G, k...]; the backprop-data
    # (transposed) forms take every input element times the kernel.
    skip = 2 if kind.startswith("Group") else 1
    base = x if kind.endswith("BackpropData") else out
    return math.prod(base) * math.prod(w[skip:])


_COUNTED = {"Convolution", "GroupConvolution", "ConvolutionBackpropData", "GroupConvolutionBackpropData", "MatMul"}


def _core(config: RuntimeConfig) -> Any:
    """A fresh ov.Core with the config's core-wide properties (memory-mapping the weights)."""
    import openvino as ov

    core = ov.Core()
    if config.mmap is not None:
        core.set_property({"ENABLE_MMAP": config.mmap})
    return core


def _shape_text(shapes: Mapping[str, Sequence[DimBound]]) -> str:
    return ",".join(f"{n}{list(s)}" for n, s in shapes.items())
