"""End-to-end application timing: decode, pre-process, copy, infer and post-process, measured apart.

Three paths run over the same real images:

* host, staged: every stage timed apart for every input (a clock lap between stages);
* host, plain: the same code without the laps, timed start to end only. It is the
  sequential end-to-end figure, and the check that the stages account for all the time;
* fused: the raw decoded image copied into a model that does its own pre-processing.

The three are interleaved per input in a rotating order (A B C, B C A, ...), so drift and
cache warmth hit all of them alike. The pipelined mode overlaps pre-processing of the next
inputs (threads, bounded queues) with inference of the current ones (the runtime's async
requests) and reports the latency an input sees, queues included, and the throughput.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferperf.backends.base import AsyncRequests, Backend, Engine
from inferperf.config import RuntimeConfig
from inferperf.errors import ConfigError, InferperfError
from inferperf.inputs.dataset import PreprocessSpec
from inferperf.measure.e2e_inputs import Decoder, ImageItem, Postprocessor, default_postprocess
from inferperf.measure.e2e_paths import NO_CLOCK, FusedPath, HostPath, HostPreprocess, StageClock
from inferperf.measure.e2e_results import Agreement, Fused, Measured, Pipelined, Sequential, StageTable
from inferperf.model.info import ModelInfo
from inferperf.stats import QUANTILE_METHOD, THROUGHPUT_METHOD, paired_ratio_ci, quantile_ci, summarize, throughput_ci

STAGES = ("read_decode", "resize", "color", "normalize", "layout", "copy", "infer", "postprocess")
FUSED_STAGES = ("read_decode", "copy", "infer", "postprocess")
_POLL_S = 0.2  # timed waits in the pipeline: block, never spin, yet notice a failed thread
Status = Callable[[str], None]


@dataclass(frozen=True)
class E2EOptions:
    """How long and how wide the end-to-end measurement runs."""

    seconds: float = 20.0  # interleaved sequential phase (host staged, host plain, fused)
    pipelined_seconds: float = 10.0
    warmup_items: int = 3
    prep_threads: int | None = None  # pipelined pre-processing threads (default: cores - 1, at least 1)
    queue_size: int | None = None  # bounded queue between pre-processing and inference (default: requests)
    requests: int | None = None  # async requests in flight (default: the runtime's optimum)
    top_k: int = 5

    def __post_init__(self) -> None:
        for name in ("seconds", "pipelined_seconds"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"invalid {name.replace('_', ' ')} {getattr(self, name)}: must be positive")
        for name in ("prep_threads", "queue_size", "requests"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"invalid {name.replace('_', ' ')} {value}: must be at least 1")
        if self.warmup_items < 0 or self.top_k < 1:
            raise ConfigError("warm-up items must be >= 0 and top-k >= 1")


# ---------------------------------------------------------------- inputs


@dataclass
class _Samples:
    stages: dict[str, list[float]]
    totals: list[float] = field(default_factory=list)
    first_output: dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, index: int, clock: StageClock, outputs: dict[str, np.ndarray]) -> None:
        for stage, ms in clock.times.items():
            self.stages[stage].append(ms)
        self.totals.append(clock.total_ms())
        if index not in self.first_output:
            self.first_output[index] = np.asarray(next(iter(outputs.values())), np.float64).ravel()


def _staged(path: HostPath | FusedPath, item: ImageItem) -> tuple[StageClock, dict[str, np.ndarray]]:
    clock = StageClock()
    outputs = path.run(item, clock)
    return clock, outputs


def _plain_ms(path: HostPath, item: ImageItem) -> float:
    t0 = time.perf_counter()
    path.run(item, NO_CLOCK)
    return (time.perf_counter() - t0) * 1e3


@dataclass
class SequentialRun:
    """Raw samples of the interleaved sequential phase."""

    host: _Samples
    plain: list[float]
    fused: _Samples | None
    first_ms: dict[str, float]
    duration_s: float
    passes: float


def measure_sequential(
    items: Sequence[ImageItem],
    host: HostPath,
    fused: FusedPath | None,
    options: E2EOptions,
    status: Status | None = None,
) -> SequentialRun:
    """Host staged, host plain and fused, interleaved per input until the time is up (one full pass at least)."""
    first = {"host_ms": _staged(host, items[0])[0].total_ms()}
    if fused is not None:
        first["fused_ms"] = _staged(fused, items[0])[0].total_ms()
    for item in itertools.islice(itertools.cycle(items), options.warmup_items):
        host.run(item, NO_CLOCK)
        if fused is not None:
            fused.run(item, NO_CLOCK)
    host_s = _Samples({s: [] for s in STAGES})
    fused_s = _Samples({s: [] for s in FUSED_STAGES}) if fused is not None else None
    plain: list[float] = []
    runs: list[Callable[[int, ImageItem], None]] = [
        lambda i, item: host_s.add(i, *_staged(host, item)),
        lambda i, item: plain.append(_plain_ms(host, item)),
    ]
    if fused is not None and fused_s is not None:
        runs.append(lambda i, item: fused_s.add(i, *_staged(fused, item)))
    start = time.perf_counter()
    k = 0
    while k < len(items) or time.perf_counter() - start < options.seconds:
        i = k % len(items)
        for j in range(len(runs)):  # rotate who goes first, so caches warmed by one help each in turn
            runs[(k + j) % len(runs)](i, items[i])
        k += 1
        if status is not None and k % 10 == 0:
            status(f"sequential: {k} inputs, {time.perf_counter() - start:.0f} s")
    return SequentialRun(host_s, plain, fused_s, first, time.perf_counter() - start, k / len(items))


# ---------------------------------------------------------------- pipelined


class _Failed:
    pass


_FAILED = _Failed()


class Pipeline:
    """Pre-processing threads -> bounded queue -> async requests -> post-processing thread."""

    def __init__(
        self,
        items: Sequence[ImageItem],
        host: HostPath,
        requests: int,
        prep_threads: int,
        queue_size: int,
    ) -> None:
        # The host path's stages, engine and tensor layout; its buffers are this pipeline's own.
        self.items, self.pre, self.engine, self.input_name, self.post = (
            items,
            host.pre,
            host.engine,
            host.input_name,
            host.post,
        )
        self.requests, self.prep_threads = requests, prep_threads
        self.ready: queue.Queue[tuple[int, float, np.ndarray] | None] = queue.Queue(queue_size)
        self.done: queue.Queue[tuple[int, dict[str, np.ndarray]] | None] = queue.Queue()
        # Every buffer is owned by one input from its copy until its inference ends: enough for
        # all requests, the queue and one per pre-processing thread, and no more (bounded memory).
        self.free: queue.Queue[np.ndarray] = queue.Queue()
        for _ in range(requests + queue_size + prep_threads):
            self.free.put(np.zeros_like(host.buffer))
        self.stop, self.failed = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []
        self._counter = itertools.count()
        self._in_flight: dict[int, tuple[float, np.ndarray]] = {}
        self.started: list[float] = []
        self.finished: list[float] = []

    def _fail(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.failed.set()
        self.stop.set()

    def _get(self, q: queue.Queue[Any]) -> Any:
        while True:
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                if self.failed.is_set():
                    return _FAILED

    def _put(self, q: queue.Queue[Any], entry: Any) -> bool:
        while not self.failed.is_set():
            try:
                q.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _prep_worker(self) -> None:
        try:
            while not self.stop.is_set():
                k = next(self._counter)
                t0 = time.perf_counter()
                x = self.pre.prepare(self.items[k % len(self.items)], NO_CLOCK)
                buf = self._get(self.free)
                if buf is _FAILED:
                    return
                np.copyto(buf, x)
                if not self._put(self.ready, (k, t0, buf)):
                    return
        except BaseException as exc:  # re-raised in the driving thread
            self._fail(exc)
        finally:
            self._put(self.ready, None)

    def _feeder(self, requests: AsyncRequests) -> None:
        ended = 0
        try:
            while ended < self.prep_threads:
                entry = self._get(self.ready)
                if entry is _FAILED:
                    return
                if entry is None:
                    ended += 1
                    continue
                k, t0, buf = entry
                self._in_flight[k] = (t0, buf)
                requests.submit({self.input_name: buf}, k)
            requests.wait_all()
        except BaseException as exc:  # re-raised in the driving thread
            self._fail(exc)
        finally:
            self.done.put(None)

    def _post_worker(self) -> None:
        try:
            while (entry := self._get(self.done)) is not None and entry is not _FAILED:
                k, outputs = entry
                t0, buf = self._in_flight.pop(k)
                self.free.put(buf)
                self.post(outputs)
                self.started.append(t0)
                self.finished.append(time.perf_counter())
        except BaseException as exc:  # re-raised in the driving thread
            self._fail(exc)

    def run(self, seconds: float) -> tuple[float, float]:
        """Run for ``seconds``, drain, and return (start, stop) perf_counter times."""
        requests = self.engine.start_async(self.requests, lambda tag, outs: self.done.put((tag, outs)))
        threads = [threading.Thread(target=self._prep_worker, daemon=True) for _ in range(self.prep_threads)]
        threads += [
            threading.Thread(target=self._feeder, args=(requests,), daemon=True),
            threading.Thread(target=self._post_worker, daemon=True),
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        self.failed.wait(seconds)  # a blocking wait that ends early on a failure
        stop = time.perf_counter()
        self.stop.set()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(_POLL_S)  # timed joins keep Ctrl-C responsive
        finally:
            with contextlib.suppress(InferperfError):
                requests.wait_all()  # its failures were already recorded by the feeder
            requests.close()
        if self.errors:
            exc = self.errors[0]
            raise exc if isinstance(exc, InferperfError) else InferperfError(f"pipeline failed: {exc!r}") from exc
        return start, stop


def measure_pipelined(pipeline: Pipeline, seconds: float) -> Pipelined:
    """Run the pipeline and summarise latency (queues included) and throughput after a warm-up window."""
    start, stop = pipeline.run(seconds)
    warm = start + min(2.0, 0.2 * seconds)  # the first requests pay for cold caches and empty queues
    started = np.asarray(pipeline.started)
    finished = np.asarray(pipeline.finished)
    keep = (started >= warm) & (finished <= stop)
    if keep.sum() < 2:
        raise InferperfError(f"pipelined run finished only {int(keep.sum())} inputs in its window: raise the time")
    latency = (finished[keep] - started[keep]) * 1e3
    done_in_window = finished[(finished >= warm) & (finished <= stop)]
    tput = throughput_ci(done_in_window, warm, stop)
    return {
        "requests": pipeline.requests,
        "prep_threads": pipeline.prep_threads,
        "queue_size": pipeline.ready.maxsize,
        "latency_ms": summarize(latency).to_dict(),
        "throughput_fps": tput.to_dict(),
        "count": int(keep.sum()),
        "completed_total": len(finished),
        "window_s": stop - warm,
        "warmup_s": warm - start,
        "samples": {"latency_ms": latency.tolist(), "done_at_s": (done_in_window - warm).tolist()},
    }


# ---------------------------------------------------------------- summaries


def stage_table(stages: dict[str, list[float]]) -> StageTable:
    """Per stage: median with interval, mean, share of the total time (by means), raw samples."""
    means = {s: float(np.mean(v)) for s, v in stages.items() if v}
    total = sum(means.values())
    return {
        s: {
            "median": quantile_ci(v, 0.5).to_dict(),
            "mean": means[s],
            "share": means[s] / total if total else 0.0,
            "samples": list(v),
        }
        for s, v in stages.items()
        if v
    }


def sequential_summary(run: SequentialRun) -> Sequential:
    """Stage table, stage-median sum against the plain end-to-end median, and sequential throughput."""
    stages = stage_table(run.host.stages)
    median_sum = sum(s["median"]["value"] for s in stages.values())
    plain = np.asarray(run.plain)
    e2e = summarize(plain)
    # One input after another: the plain runs laid end to end are the sequential application's timeline.
    timeline = np.cumsum(plain) / 1e3
    return {
        "stages": stages,
        "stage_median_sum_ms": median_sum,
        "e2e_ms": e2e.to_dict(),
        "staged_total_ms": summarize(run.host.totals).to_dict(),
        "stage_sum_over_e2e": median_sum / e2e.median.value,
        "throughput_fps": throughput_ci(timeline, 0.0, float(timeline[-1])).to_dict(),
        "first_input_ms": run.first_ms,
        "count": len(run.plain),
        "passes": run.passes,
        "duration_s": run.duration_s,
        "samples": {"e2e_ms": run.plain, "staged_total_ms": run.host.totals},
    }


def agreement(host: dict[int, np.ndarray], fused: dict[int, np.ndarray]) -> Agreement:
    """Fused against host outputs per input: max |difference|, cosine, top-1 agreement."""
    keys = sorted(set(host) & set(fused))
    diffs, cosines, same = [], [], []
    for k in keys:
        a, b = host[k], fused[k]
        diffs.append(float(np.max(np.abs(a - b))))
        denom = float(np.linalg.norm(a) * np.linalg.norm(b))
        cosines.append(float(a @ b) / denom if denom else (1.0 if np.array_equal(a, b) else 0.0))
        same.append(bool(np.argmax(a) == np.argmax(b)))
    scale = max((float(np.max(np.abs(host[k]))) for k in keys), default=0.0)
    return {
        "inputs": len(keys),
        "max_abs_diff": max(diffs, default=math.nan),
        "median_max_abs_diff": float(np.median(diffs)) if diffs else math.nan,
        "max_abs_output": scale,
        "cosine_min": min(cosines, default=math.nan),
        "cosine_median": float(np.median(cosines)) if cosines else math.nan,
        "top1_agreement": float(np.mean(same)) if same else math.nan,
        "top1_disagreeing_inputs": [k for k, s in zip(keys, same, strict=True) if not s],
        "per_input": {"max_abs_diff": diffs, "cosine": cosines, "top1_same": same},
    }


def fused_summary(run: SequentialRun) -> Fused:
    """Fused stage table, its agreement with the host path and its speed-up (paired per input)."""
    assert run.fused is not None
    fused = run.fused
    speedup = paired_ratio_ci(run.host.totals, fused.totals)
    if speedup.low > 1:
        verdict = "faster"
    elif speedup.high < 1:
        verdict = "slower"
    else:
        verdict = "no significant difference"
    host_core = [sum(v) for v in zip(*(run.host.stages[s] for s in STAGES[1:7]), strict=True)]
    fused_core = [sum(v) for v in zip(*(fused.stages[s] for s in ("copy", "infer")), strict=True)]
    return {
        "stages": stage_table(fused.stages),
        "e2e_ms": summarize(fused.totals).to_dict(),
        "agreement": agreement(run.host.first_output, fused.first_output),
        "speedup": {
            **speedup.to_dict(),
            "method": speedup.method + " over inputs, host staged / fused staged, interleaved",
            "verdict": f"fused is {verdict}" if verdict != "no significant difference" else verdict,
        },
        "preprocess_and_infer_speedup": {
            **paired_ratio_ci(host_core, fused_core).to_dict(),
            "note": "host resize..infer against fused copy+infer (decode and post-processing left out)",
        },
        "samples": {"staged_total_ms": fused.totals},
    }


METHODS = {
    "stage_ci": QUANTILE_METHOD,
    "throughput_ci": THROUGHPUT_METHOD,
    "sequential": "host staged, host plain (e2e) and fused runs interleaved per input in rotating order",
    "pipelined": "latency from the start of an input's read to the end of its post-processing, queues included",
}


# ---------------------------------------------------------------- the whole measurement


@dataclass(frozen=True)
class E2ETarget:
    """The host model's image input: name, batch-1 shape, dtype, and how images become it."""

    info: ModelInfo
    input_name: str
    shape: tuple[int, ...]
    dtype: str
    spec: PreprocessSpec
    size: tuple[int, int]


def _close(*engines: Engine | None) -> None:
    for engine in engines:
        if engine is not None:
            engine.close()


@dataclass(frozen=True)
class _Phases:
    """What both phases run: the images, the host pre-processing and post-processing around the model."""

    plugin: Backend
    target: E2ETarget
    items: Sequence[ImageItem]
    pre: HostPreprocess
    post: Postprocessor
    options: E2EOptions

    def compile_host(self, config: RuntimeConfig) -> Engine:
        """The model as the host path feeds it: one decoded, pre-processed image at the model's shape."""
        return self.plugin.compile(self.target.info, {self.target.input_name: self.target.shape}, config)

    def host_path(self, engine: Engine) -> HostPath:
        """Decode, pre-process on the host, infer on ``engine``, post-process."""
        t = self.target
        return HostPath(self.pre, engine, t.input_name, t.shape, t.dtype, self.post)


def _sequential_phase(
    phases: _Phases, config: RuntimeConfig, fused_info: ModelInfo | None, status: Status | None
) -> tuple[SequentialRun, dict[str, Any]]:
    host_engine = fused_engine = None
    try:
        host_engine = phases.compile_host(config)
        host = phases.host_path(host_engine)
        fused = None
        if fused_info is not None:
            # Raw images keep their own height and width: -1 leaves those dimensions dynamic.
            name = fused_info.inputs[0].name
            fused_engine = phases.plugin.compile(fused_info, {name: (1, -1, -1, 3)}, config)
            fused = FusedPath(phases.pre.decoder, fused_engine, name, phases.post)
        run = measure_sequential(phases.items, host, fused, phases.options, status)
        effective = {"host": host_engine.effective(), "fused": fused_engine.effective() if fused_engine else None}
        return run, effective
    finally:
        _close(host_engine, fused_engine)


def _pipelined_phase(phases: _Phases, config: RuntimeConfig) -> Pipelined:
    import psutil

    options = phases.options
    engine = phases.compile_host(config)
    try:
        requests = options.requests or config.requests or engine.default_requests()
        cores = psutil.cpu_count(logical=False) or 1
        pipeline = Pipeline(
            phases.items,
            phases.host_path(engine),
            requests=requests,
            prep_threads=options.prep_threads or max(1, cores - 1),
            queue_size=options.queue_size or requests,
        )
        return {**measure_pipelined(pipeline, options.pipelined_seconds), "effective": engine.effective()}
    finally:
        engine.close()


def run_e2e(
    plugin: Backend,
    target: E2ETarget,
    items: Sequence[ImageItem],
    decoder: Decoder,
    config: RuntimeConfig,
    options: E2EOptions,
    fused_info: ModelInfo | None = None,
    post: Postprocessor | None = None,
    status: Status | None = None,
) -> Measured:
    """Sequential (staged, plain, fused) then pipelined; the measured fields of an ``e2e`` result."""
    post = post or default_postprocess(target.info.outputs[0].shape, options.top_k)
    pre = HostPreprocess(decoder, target.spec, target.size)
    latency_cfg = plugin.configure(config.with_(backend=plugin.name), "latency")
    phases = _Phases(plugin, target, items, pre, post, options)
    seq, effective = _sequential_phase(phases, latency_cfg, fused_info, status)
    if status is not None:
        status("pipelined")
    throughput_cfg = plugin.configure(config.with_(backend=plugin.name), "throughput")
    piped = _pipelined_phase(phases, throughput_cfg)
    sequential = sequential_summary(seq)
    sequential["config"], sequential["effective"] = latency_cfg.to_dict(), effective["host"]
    piped["config"] = throughput_cfg.to_dict()
    piped["throughput_vs_sequential"] = piped["throughput_fps"]["value"] / sequential["throughput_fps"]["value"]
    doc: Measured = {
        "postprocess": post.name,
        "sequential": sequential,
        "pipelined": piped,
        "methods": METHODS,
    }
    if seq.fused is not None:
        doc["fused"] = fused_summary(seq)
        doc["fused"]["effective"] = effective["fused"]
    return doc
