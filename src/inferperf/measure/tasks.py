"""What a fresh worker process does: time a cold start, or trace memory through the phases.

These run inside ``inferperf.measure.worker`` only; each returns a JSON-ready
dict. Memory peaks come from the kernel's high-water mark (VmHWM), reset
through /proc/self/clear_refs before each phase, so a peak between two
samples is never missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from inferperf.measure.rss import hwm_mb, reset_hwm, rss_mb

if TYPE_CHECKING:
    import numpy as np

    from inferperf.measure.trials import Interleaved, Trial


def _setup(job: dict[str, Any]) -> tuple[Any, Any, dict[str, tuple[int, ...]], Any]:
    from inferperf.backends import get_backend
    from inferperf.config import RuntimeConfig
    from inferperf.model.info import ModelInfo, load_model_info

    backend = get_backend(job["backend"], check=False)
    # The parent already inspected the model: re-reading it here would parse the weights (and
    # warm the page cache) before the runtime's own read is timed.
    info = ModelInfo.from_dict(job["model_info"]) if "model_info" in job else load_model_info(job["model"])
    shapes = {k: tuple(v) for k, v in job["shapes"].items()}
    return backend, info, shapes, RuntimeConfig.from_dict(job["config"])


def _coldstart_inputs(info: Any, shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        s.name: rng.standard_normal(shapes[s.name]).astype(s.dtype)
        if s.dtype.startswith("float")
        else np.zeros(shapes[s.name], dtype=s.dtype)
        for s in info.inputs
    }


def coldstart_task(job: dict[str, Any]) -> dict[str, Any]:
    """Runtime import, read, compile, first and second inference, each timed once.

    With a shape stream (``job["inputs"]["shapes"]``) the engine keeps the varying dims open; the
    first and second inference are at the smallest group's shape, then every other group's shape
    is met for the first time and run again: what a fresh process pays per new shape.
    """
    backend, info, shapes, config = _setup(job)
    t0 = time.perf_counter()
    backend.check_available()  # the first import of the runtime in this process
    import_ms = (time.perf_counter() - t0) * 1e3
    stream = (job.get("inputs") or {}).get("shapes")
    groups: list[tuple[str, dict[str, tuple[int, ...]]]] = [("", shapes)]
    if stream:
        from inferperf.measure.dynamic_plan import group_shapes

        groups, ranges = group_shapes(info, stream, int(job["inputs"].get("seed", 0)))
        engine = backend.compile_dynamic(info, ranges, config)
    else:
        engine = backend.compile(info, shapes, config)
    inputs = _coldstart_inputs(info, groups[0][1], int(job.get("seed", 0)))
    t1 = time.perf_counter()
    engine.infer(inputs)
    first_done = time.time()
    t2 = time.perf_counter()
    engine.infer(inputs)
    t3 = time.perf_counter()
    extra: dict[str, Any] = {}
    if stream:
        extra["groups"] = [{"group": groups[0][0], "first_ms": (t2 - t1) * 1e3, "second_ms": (t3 - t2) * 1e3}]
        for label, group in groups[1:]:
            x = _coldstart_inputs(info, group, int(job.get("seed", 0)))
            a = time.perf_counter()
            engine.infer(x)
            b = time.perf_counter()
            engine.infer(x)
            c = time.perf_counter()
            extra["groups"].append({"group": label, "first_ms": (b - a) * 1e3, "second_ms": (c - b) * 1e3})
    return {
        "import_ms": import_ms,
        **{f"{k}_ms": v for k, v in engine.phases_ms.items()},
        "first_inference_ms": (t2 - t1) * 1e3,
        "second_inference_ms": (t3 - t2) * 1e3,
        "first_result_at": first_done,
        "effective": engine.effective(),
        **extra,
    }


class _Peaks:
    """RSS and per-phase peaks; keeps the overall peak across resets."""

    def __init__(self) -> None:
        self.exact = reset_hwm()
        self.overall = hwm_mb() or rss_mb()
        self.points: dict[str, float | None] = {}

    def start(self) -> None:
        self.overall = max(self.overall, hwm_mb() or 0.0)
        reset_hwm()

    def peak(self, name: str) -> None:
        value = hwm_mb() if self.exact else None
        self.points[name] = value
        self.overall = max(self.overall, value or rss_mb())

    def rss(self, name: str) -> None:
        self.points[name] = rss_mb()


def _steady(engine: Any, sets: list[dict[str, Any]], seconds: float, requests: int | None) -> tuple[float, int]:
    from inferperf.config import RunLimits
    from inferperf.measure.runner import Collector

    col = Collector(RunLimits(time_s=seconds, warmup_s=0))
    n = requests or engine.default_requests()
    engine.run_requests(sets, n, col)
    return len(col.done_at) / max(max(col.done_at) - col.start, 1e-9), n


def _leak(engine: Any, sets: list[dict[str, Any]], iterations: int, cap_s: float) -> dict[str, float]:
    for i in range(min(100, iterations)):
        engine.infer(sets[i % len(sets)])  # let allocators and caches settle first
    before, t0, done = rss_mb(), time.perf_counter(), 0
    while done < iterations and time.perf_counter() - t0 < cap_s:
        engine.infer(sets[done % len(sets)])
        done += 1
    grown = rss_mb() - before
    return {"iterations": done, "growth_mb": grown, "growth_mb_per_1000": grown / max(done, 1) * 1000}


def memory_task(job: dict[str, Any]) -> dict[str, Any]:
    """RSS after import, read and compile; peaks of compile, first inference and steady state; leak check.

    With a shape stream (``job["inputs"]["shapes"]``) the engine keeps the varying dims open and
    runs the stream: the first pass meets every shape for the first time, so the memory it adds is
    what new shapes cost; the leak check then cycles the stream, where memory should stay flat.
    """
    import numpy as np

    peaks = _Peaks()
    peaks.rss("python_mb")
    backend, info, shapes, config = _setup(job)
    backend.check_available()
    peaks.rss("after_import_mb")

    def on_phase(phase: str) -> None:
        if phase == "read":
            peaks.rss("after_read_mb")
            peaks.start()

    stream = (job.get("inputs") or {}).get("shapes")
    sets: list[dict[str, Any]]
    if stream:
        from inferperf.measure.trials import shape_stream

        _, sets, ranges = shape_stream(info, stream, int(job["inputs"].get("seed", 0)), None)
        assert ranges is not None
        engine = backend.compile_dynamic(info, ranges, config, on_phase=on_phase)
    else:
        engine = backend.compile(info, shapes, config, on_phase=on_phase)
        sets = [{s.name: np.ones(shapes[s.name], dtype=s.dtype) for s in info.inputs}]
    peaks.peak("compile_peak_mb")
    peaks.rss("after_compile_mb")
    peaks.start()
    engine.infer(sets[0])
    peaks.peak("first_inference_peak_mb")
    extra: dict[str, Any] = {}
    if stream:
        extra["stream"] = _first_pass(engine, sets, peaks)
    peaks.start()
    fps, requests = _steady(engine, sets, float(job.get("steady_s", 3.0)), config.requests)
    peaks.peak("steady_peak_mb")
    leak = _leak(engine, sets, int(job.get("leak_iterations", 1000)), float(job.get("leak_cap_s", 20.0)))
    return {
        **peaks.points,
        "peak_mb": max(peaks.overall, hwm_mb() or 0.0),
        "peaks_exact": peaks.exact,
        "throughput_fps": fps * _items_per_inference(info, sets, config),
        "requests_in_flight": requests,
        "leak": leak,
        "effective": engine.effective(),
        **extra,
    }


def _items_per_inference(info: Any, sets: list[dict[str, Any]], config: Any) -> float:
    """Mean items per inference over the sets fed in turn: the fed tensors' batch dim, never the config's
    alone (a single set is checked against the config's batch; a stream's own dims are what ran)."""
    from inferperf.measure.runner import items_per_set

    per_set = items_per_set(info, sets, config.batch if len(sets) == 1 else 1)
    return sum(per_set) / len(per_set)


class FirstPass(TypedDict):
    """What meeting a stream's shapes for the first time added to resident memory (MiB)."""

    inputs: int
    distinct_shapes: int
    largest_input_growth_mb: float
    other_new_shapes: int
    other_shapes_growth_mb: float
    first_pass_growth_mb: float


def _first_pass(engine: Any, sets: list[dict[str, Any]], peaks: _Peaks) -> FirstPass:
    """Every input of the stream once, the largest first: the memory first sight of shapes adds.

    The largest input alone grows the activation buffers to the top size; what the other new shapes
    add after it is what the runtime keeps per shape (compiled kernels, shape caches). Cut apart so
    a growth per shape is not mistaken for buffers growing to the largest input. No rate per shape
    is given: on zoo:bert_base with OpenVINO, 28 new shapes added 150 MiB and 84 added 184 MiB (it
    saturates; CPU_RUNTIME_CACHE_CAPACITY=0 did not change it), so a per-shape rate would mislead.
    """

    def key(x: dict[str, Any]) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple((k, tuple(v.shape)) for k, v in sorted(x.items()))

    largest = max(sets, key=lambda x: sum(int(v.size) for v in x.values()))
    seen = {key(sets[0]), key(largest)}
    distinct = {key(x) for x in sets}
    before = rss_mb()
    peaks.start()
    engine.infer(largest)
    after_largest = rss_mb()
    for x in sets:
        engine.infer(x)
    peaks.peak("first_pass_peak_mb")
    after = rss_mb()
    others = len(distinct - seen)
    return {
        "inputs": len(sets),
        "distinct_shapes": len(distinct),
        "largest_input_growth_mb": after_largest - before,
        "other_new_shapes": others,
        "other_shapes_growth_mb": after - after_largest,
        "first_pass_growth_mb": after - before,
    }


def _trial(job: dict[str, Any]) -> Trial:
    from inferperf.measure.trials import trial_task

    return trial_task(job)


def _interleave(job: dict[str, Any]) -> Interleaved:
    from inferperf.measure.trials import interleave_task

    return interleave_task(job)


# A task's result is a JSON object: the worker prints it for the parent to read.
TASKS: dict[str, Callable[[dict[str, Any]], Mapping[str, Any]]] = {
    "coldstart": coldstart_task,
    "memory": memory_task,
    "trial": _trial,
    "interleave": _interleave,
}
