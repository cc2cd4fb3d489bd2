"""The plug-in interface every runtime implements.

A backend is the only place that imports its runtime, and it does so lazily,
inside its methods, so ``import inferperf`` works without any runtime.
Scenarios (measure/) drive an Engine through ``run_requests``; an Engine knows
nothing of scenarios, only how to keep N requests in flight and report each
completion.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypedDict

import numpy as np

from inferperf.backends import jobs
from inferperf.backends.jobs import Candidates, CompileJob, OpenJob, QuantizeJob, StaticJob
from inferperf.backends.layers import LayerProfiler
from inferperf.config import Knob, QuantizeOptions, RuntimeConfig, Scenario
from inferperf.errors import BackendError, ConfigError, runtime_cause
from inferperf.model.flops import FlopCount
from inferperf.model.info import ModelInfo

_JOIN_S = 0.2

# The interface's own words, defined with the jobs that carry them.
InputSet = jobs.InputSet
DimBound = jobs.DimBound


class RequestSink(Protocol):
    """Receives completions from an Engine and tells it when to stop."""

    def record(self, done_at: float, latency_ms: float) -> None:
        """One request finished at ``done_at`` (time.perf_counter seconds) after ``latency_ms``."""

    def should_stop(self) -> bool:
        """Polled by the driving loop; True ends the run (in-flight requests are drained)."""


class AsyncRequests(ABC):
    """Requests in flight that take inputs one at a time, as they become ready (see Engine.start_async)."""

    @abstractmethod
    def submit(self, inputs: InputSet, tag: int) -> None:
        """Start one inference; blocks while every request is busy. ``inputs`` must not change until it is done."""

    @abstractmethod
    def wait_all(self) -> None:
        """Block until every submitted inference is done; a failure in any is raised here as BackendError."""

    def failed(self) -> bool:
        """Whether an inference has already failed (its error waits for ``wait_all``); cheap, never blocks."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the requests. Runtimes that hold the completion callback in native code must drop it
        here: the callback refers back to its owner, and a cycle through a native object is never collected,
        so the compiled model behind it would stay in memory."""


def run_in_threads(
    feeds: Sequence[Any],
    requests: int,
    sink: RequestSink,
    call: Callable[[Any], object],
    runtime: str,
    context: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> None:
    """Closed loop for runtimes without an async API: each request in flight is a thread calling ``call``.

    Thread i takes feeds i, i+requests, ... so the threads rotate through the inputs;
    ``context`` is entered once per thread (torch's inference mode is thread-local).
    A failure in any thread stops all and is raised here as BackendError.
    """
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        # Bound once: between two calls this loop is the harness's whole cost (about 3 us per
        # inference, 3% of a 0.1 ms model), and each attribute lookup is part of it.
        k, n = offset, len(feeds)
        clock, record, should_stop, stopped = time.perf_counter, sink.record, sink.should_stop, stop.is_set
        try:
            with context():
                while not stopped():
                    feed = feeds[k % n]
                    t0 = clock()
                    call(feed)
                    t1 = clock()
                    record(t1, (t1 - t0) * 1e3)
                    k += requests
                    if should_stop():
                        stop.set()
        except Exception as exc:  # recorded and re-raised in the driving thread
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(requests)]
    for t in threads:
        t.start()
    _join_all(threads, stop)
    if errors:
        raise BackendError(f"{runtime} inference failed: {runtime_cause(errors[0])}") from errors[0]


def _join_all(threads: list[threading.Thread], stop: threading.Event) -> None:
    try:
        for t in threads:
            while t.is_alive():
                t.join(_JOIN_S)  # a timed join keeps Ctrl-C responsive; it blocks, never spins
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join()
        raise


class ThreadedRequests(AsyncRequests):
    """``requests`` threads calling a thread-safe ``infer``; a semaphore makes submit block while all are busy.

    For runtimes whose session or module may be called from several threads at once
    (ONNX Runtime, torch) and that have no asynchronous API of their own.
    """

    def __init__(
        self,
        infer: Callable[[InputSet], dict[str, np.ndarray]],
        requests: int,
        on_done: Callable[[int, dict[str, np.ndarray]], None],
        runtime: str,
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._infer, self._on_done, self._runtime = infer, on_done, runtime
        self._requests = requests
        self._slots = threading.BoundedSemaphore(requests)
        self._pool = ThreadPoolExecutor(requests, thread_name_prefix=f"inferperf-{runtime}")
        self._errors: list[BaseException] = []

    def _run(self, inputs: InputSet, tag: int) -> None:
        try:
            self._on_done(tag, self._infer(inputs))
        except Exception as exc:  # re-raised in wait_all, in the driving thread
            self._errors.append(exc)
        finally:
            self._slots.release()

    def failed(self) -> bool:
        return bool(self._errors)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def submit(self, inputs: InputSet, tag: int) -> None:
        """Start one inference; blocks while every thread is busy."""
        self._slots.acquire()
        self._pool.submit(self._run, inputs, tag)

    def wait_all(self) -> None:
        """Wait for every submitted inference; the first failure is raised as BackendError.

        Idle means every slot is free again; the pool stays up, so more can be submitted after.
        """
        for _ in range(self._requests):
            self._slots.acquire()
        for _ in range(self._requests):
            self._slots.release()
        if self._errors:
            exc = self._errors[0]
            if isinstance(exc, BackendError):
                raise exc
            raise BackendError(f"{self._runtime} completion failed: {runtime_cause(exc)}") from exc


class Engine(ABC):
    """A model compiled for one runtime configuration, ready to infer."""

    @property
    @abstractmethod
    def phases_ms(self) -> dict[str, float | None]:
        """Wall time of ``read`` and ``compile`` in ms (None where the runtime merges them)."""

    @abstractmethod
    def infer(self, inputs: InputSet) -> dict[str, np.ndarray]:
        """Run one synchronous inference and return the outputs by name."""

    @abstractmethod
    def default_requests(self) -> int:
        """How many requests in flight this engine wants for throughput (the runtime's optimum)."""

    def executors(self, requests: int) -> int:
        """How many of ``requests`` in flight this engine computes at once; the rest wait in its queue.

        The ideal queue a Server run is judged against has this many servers. Default: all of them.
        """
        return requests

    @abstractmethod
    def run_requests(self, input_sets: Sequence[InputSet], requests: int, sink: RequestSink) -> None:
        """Keep ``requests`` inferences in flight, rotating through ``input_sets``.

        Every completion goes to ``sink.record``; the loop ends once
        ``sink.should_stop()`` is True and all in-flight requests are done.
        Latency is the runtime call's own duration, start to completion.
        """

    @abstractmethod
    def effective(self) -> dict[str, Any]:
        """What the runtime actually chose (streams, threads, precision, ...), read back from it."""

    def close(self) -> None:  # noqa: B027 - optional hook, most runtimes free on GC
        """Release runtime resources early."""

    def start_async(self, requests: int, on_done: Callable[[int, dict[str, np.ndarray]], None]) -> AsyncRequests:
        """``requests`` runtime requests fed one input at a time (an application pipeline's inference stage).

        Each finished inference calls ``on_done(tag, outputs)`` from a runtime thread;
        keep it short (hand the outputs to a queue).
        """
        raise ConfigError("this backend has no asynchronous requests")


class ConfigDefaults(TypedDict, total=False):
    """The RuntimeConfig fields a backend fills for a scenario where the user left them unset."""

    hint: str
    threads: int
    requests: int
    streams: int


class Backend(ABC):
    """A runtime plug-in: says what it can do, and compiles models into Engines."""

    name: ClassVar[str]
    install_hint: ClassVar[str]
    # The property a compiled model reads back as the float precision it executes (None: not exposed).
    precision_property: ClassVar[str | None] = None
    # Whether a compiled model may keep a dim open between bounds ([1..512]): the "bounded" strategy.
    bounded_dims: ClassVar[bool] = False
    # Read-back properties worth a word in a one-line summary of a run: (property, short label).
    knob_labels: ClassVar[tuple[tuple[str, str], ...]] = ()

    @abstractmethod
    def check_available(self) -> None:
        """Raise BackendUnavailableError (with install_hint) when the runtime cannot be imported."""

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """Versions of the runtime libraries this backend uses."""

    @abstractmethod
    def supports_format(self, fmt: str) -> bool:
        """True when this backend can load models of format ``fmt``."""

    @abstractmethod
    def scenario_defaults(self, scenario: Scenario) -> ConfigDefaults:
        """RuntimeConfig fields this backend sets for a scenario when the user left them unset."""

    def compile(
        self,
        model: ModelInfo,
        shapes: dict[str, tuple[int, ...]],
        config: RuntimeConfig,
        on_phase: Callable[[str], None] | None = None,
    ) -> Engine:
        """Read and compile ``model`` for ``config`` with static ``shapes``; time both phases.

        ``on_phase("read")`` is called between reading and compiling (memory
        tracing samples there); runtimes that do both in one call skip it.
        """
        return self._compile(CompileJob(model, shapes, config, on_phase))

    @abstractmethod
    def _compile(self, job: StaticJob) -> Engine:
        """What ``compile`` asks of this runtime."""

    def compile_dynamic(
        self,
        model: ModelInfo,
        ranges: dict[str, tuple[DimBound, ...]],
        config: RuntimeConfig,
        on_phase: Callable[[str], None] | None = None,
    ) -> Engine:
        """Compile with open dimensions: each input's dims are a size or a (low, high) range.

        The engine then accepts any shape within the ranges, one shape per request.
        """
        return self._compile_dynamic(CompileJob(model, ranges, config, on_phase))

    def _compile_dynamic(self, job: OpenJob) -> Engine:
        """What ``compile_dynamic`` asks of this runtime; by default it has no open dimensions."""
        raise ConfigError(
            f"backend {self.name} cannot compile a model with open dimensions: use openvino or onnxruntime"
        )

    def quantize(
        self,
        model: ModelInfo,
        calibration: Sequence[InputSet],
        out_dir: Path,
        options: QuantizeOptions,
        labels: Sequence[int] | None = None,
    ) -> Candidates:
        """INT8 candidates written under ``out_dir``: (path, label, details). The input model is never touched.

        ``labels`` (of the calibration samples) enable accuracy-aware methods where a backend has them.
        """
        return self._quantize(QuantizeJob(model, calibration, out_dir, options, labels))

    def _quantize(self, job: QuantizeJob) -> Candidates:
        """What ``quantize`` asks of this runtime; by default it cannot."""
        raise ConfigError(f"backend {self.name} cannot quantize models")

    def sparse_weight_properties(self, sparsity: float) -> dict[str, str] | None:
        """Runtime properties that make sparse weights run sparse, or None when the runtime has none."""
        return None

    def memory_variants(self, base: RuntimeConfig, cores: int) -> list[tuple[str, RuntimeConfig]]:
        """Configurations whose memory differs: by default the latency and throughput set-ups."""
        return [(f"{s} defaults", self.configure(base, s)) for s in ("latency", "throughput")]

    def coldstart_variants(self) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        """Start-up variants this runtime supports (label, config changes), and what it lacks."""
        return [], []

    def count_macs(self, model: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> FlopCount | None:
        """MACs and parameters from this runtime's own view of the graph; None when not supported."""
        return None

    def profile_layers(
        self, model: ModelInfo, shapes: dict[str, tuple[int, ...]], config: RuntimeConfig
    ) -> LayerProfiler:
        """Compile ``model`` with the runtime's per-layer counters on, ready to run and collect.

        Backends without per-layer counters keep this default, which says so.
        """
        raise ConfigError(f"per-layer profiling is not supported by backend {self.name}")

    def search_space(self, scenario: Scenario, cores: int, cpu_features: Sequence[str]) -> list[Knob]:
        """The knobs worth tuning for ``scenario`` on a machine with ``cores`` physical cores.

        The tuner searches exactly this space; an empty list means nothing to tune.
        """
        return []

    def configure(self, config: RuntimeConfig, scenario: Scenario) -> RuntimeConfig:
        """The config for a scenario: the user's choices, with this backend's defaults filling gaps."""
        fill = {k: v for k, v in self.scenario_defaults(scenario).items() if getattr(config, k) is None}
        return config.with_(**fill) if fill else config
