"""LoadGen's side of a test: the system under test over an engine's asynchronous requests, the run, its logs.

The SUT hands LoadGen's samples to a feeder thread (LoadGen's issue thread is never blocked, so Poisson
arrivals stay on schedule) which submits each one to the engine's asynchronous requests
(``Engine.start_async``); every completion callback reports straight to ``QuerySamplesComplete``. The QSL
is the input sets already in memory, so load/unload are no-ops. LoadGen's own log files stay in the output
folder; the figures are read back from its detail log (``mlperf_log_detail.txt``). Scenarios, settings and
peak searches are ``measure.loadgen``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.base import AsyncRequests, Engine, InputSet
from inferperf.errors import BackendError, InputSpecError, require
from inferperf.measure.queue import IdealQueue
from inferperf.measure.scoring import Scores, score
from inferperf.stats import summarize

LOADGEN_HINT = "pip install 'inferperf[loadgen]' (or: pip install mlcommons-loadgen)"
LOG_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "mlperf_log_trace.json")


def import_loadgen() -> Any:
    """The ``mlperf_loadgen`` module, or BackendUnavailableError saying how to install it."""
    return require("mlperf_loadgen", "MLPerf LoadGen is not installed", LOADGEN_HINT)


def loadgen_version() -> str | None:
    """The installed mlcommons-loadgen version, None when it is absent."""
    from importlib import metadata

    try:
        return metadata.version("mlcommons-loadgen")
    except metadata.PackageNotFoundError:
        return None


Settings = dict[str, int | float | str]
"""LoadGen TestSettings fields by their attribute names (plain values, JSON-ready)."""


def build_settings(lg: Any, values: Settings, accuracy: bool) -> Any:
    """A LoadGen TestSettings from ``settings_values`` output."""
    settings = lg.TestSettings()
    settings.mode = lg.TestMode.AccuracyOnly if accuracy else lg.TestMode.PerformanceOnly
    for key, value in values.items():
        setattr(settings, key, getattr(lg.TestScenario, str(value)) if key == "scenario" else value)
    return settings


@dataclass(frozen=True)
class SampleGroups:
    """Each QSL sample's shape group (a label), and the labels in size order."""

    of_sample: Sequence[str]
    order: Sequence[str]


def per_group_latency(
    groups: SampleGroups, timings: Sequence[tuple[int, float]], measured_from: str
) -> list[dict[str, Any]]:
    """Per shape group: the samples' latencies (ms) with the usual intervals, from the SUT's own clock."""
    by: dict[str, list[float]] = {g: [] for g in groups.order}
    for index, ms in timings:
        by[groups.of_sample[index]].append(ms)
    out = []
    for label in groups.order:
        lat = by[label]
        out.append(
            {
                "group": label,
                "samples": len(lat),
                "latency_ms": summarize(lat).to_dict() if lat else None,
                "measured_from": measured_from,
            }
        )
    return out


class LoadGenSUT:
    """LoadGen's queries onto an engine's asynchronous requests; completions reported from the callbacks.

    ``respond_with_outputs`` (accuracy mode) sends each sample's first output to LoadGen, which
    writes it to ``mlperf_log_accuracy.json``; in performance mode the responses carry no data.
    """

    def __init__(
        self,
        lg: Any,
        engine: Engine,
        input_sets: Sequence[InputSet],
        requests: int,
        *,
        respond_with_outputs: bool = False,
        stall_s: float = 60.0,
        batch: int = 1,
    ) -> None:
        self._lg = lg
        self._sets = input_sets
        self._batch = batch
        # submit tag -> the (sample id, QSL index) pairs that one inference answers
        self._groups: dict[int, list[tuple[int, int]]] = {}
        self._respond = respond_with_outputs
        self._stall_s = stall_s
        self._pending: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
        self._outstanding: set[int] = set()
        self._last_activity = time.monotonic()
        self._stop = threading.Event()
        # Per sample (index, ms): from LoadGen's issue, or from the submit (Offline issues everything at
        # once, so its issue-to-done times would only measure the queue). Appends are atomic in CPython.
        self.measure_from = "issue"
        self.timings: list[tuple[int, float]] = []
        self._began: dict[int, tuple[int, float]] = {}
        self.errors: list[str] = []
        self.output_meta: tuple[str, tuple[int, ...]] | None = None  # dtype, shape of the first output
        # Service times from this run (submit to completion of inferences that started on a free executor):
        # a probe before the run misses how fast the machine is while the run goes on.
        self._executors = engine.executors(requests)
        self._in_runtime = 0
        self._submitted: dict[int, tuple[float, int]] = {}  # tag -> (submit time, inferences then in the runtime)
        self._count_lock = threading.Lock()  # the feed thread adds, the runtime's threads take away
        self.service_ms: list[float] = []
        self._async: AsyncRequests = engine.start_async(requests, self._done)
        self._threads = [
            threading.Thread(target=self._feed, name="inferperf-sut-feed", daemon=True),
            threading.Thread(target=self._watch, name="inferperf-sut-watch", daemon=True),
        ]
        for t in self._threads:
            t.start()
        self.handle = lg.ConstructSUT(self.issue_query, self.flush_queries)

    def issue_query(self, samples: list[Any]) -> None:
        """LoadGen's issue thread: hand over and return at once."""
        if self.measure_from == "issue":
            now = time.perf_counter()
            for s in samples:
                self._began[s.id] = (s.index, now)
        self._pending.put(list(samples))

    def flush_queries(self) -> None:
        """Nothing is held back: every sample is submitted as soon as a request is free."""

    def _feed(self) -> None:
        outstanding = self._outstanding
        while (samples := self._pending.get()) is not None:
            # A query's samples in groups of `batch`, each group one inference (the last one padded).
            for start in range(0, len(samples), self._batch):
                group = [(int(s.id), int(s.index)) for s in samples[start : start + self._batch]]
                # Activity, so a sample arriving after a long idle gap (a slow Server rate) is no stall.
                self._last_activity = time.monotonic()
                tag = group[0][0]
                self._groups[tag] = group
                outstanding.update(i for i, _ in group)
                if self.measure_from == "submit":
                    now = time.perf_counter()
                    self._began.update({i: (index, now) for i, index in group})
                with self._count_lock:
                    self._submitted[tag] = (time.perf_counter(), self._in_runtime)
                    self._in_runtime += 1
                try:
                    self._async.submit(self._inputs(group), tag)
                except Exception as exc:  # LoadGen waits for every sample: answer it, fail after the test
                    self._service_done(tag, None)
                    self._fail(f"submit failed: {exc}", [i for i, _ in group])

    def _inputs(self, group: list[tuple[int, int]]) -> InputSet:
        """One sample's inputs, or a group's stacked on the batch axis (padded by repeating the last)."""
        if self._batch == 1:
            return self._sets[group[0][1]]
        indices = [index for _, index in group] + [group[-1][1]] * (self._batch - len(group))
        return {k: np.concatenate([self._sets[i][k] for i in indices], axis=0) for k in self._sets[indices[0]]}

    def _service_done(self, tag: int, now: float | None) -> None:
        """One inference left the runtime; its submit-to-completion time is a service time if it started
        with an executor free (else it includes waiting inside the runtime)."""
        with self._count_lock:
            self._in_runtime -= 1
            submitted = self._submitted.pop(tag, None)
        if now is not None and submitted is not None and submitted[1] < self._executors:
            self.service_ms.append((now - submitted[0]) * 1e3)

    def _done(self, tag: int, outputs: dict[str, np.ndarray]) -> None:
        now = time.perf_counter()
        self._last_activity = time.monotonic()
        self._service_done(tag, now)
        group = [(i, index) for i, index in self._groups.pop(tag, []) if i in self._outstanding]
        if not group:
            return  # already answered by _fail: LoadGen must not hear of a sample twice
        for i, _ in group:
            self._outstanding.discard(i)
            began = self._began.pop(i, None)
            if began is not None:
                self.timings.append((began[0], (now - began[1]) * 1e3))
        lg = self._lg
        if not self._respond:
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i, _ in group])
            return
        out = np.ascontiguousarray(next(iter(outputs.values())))
        rows = [out] if self._batch == 1 else [np.ascontiguousarray(out[j : j + 1]) for j in range(len(group))]
        if self.output_meta is None:
            self.output_meta = (rows[0].dtype.str, tuple(rows[0].shape))
        # LoadGen copies the bytes into its accuracy log before QuerySamplesComplete returns.
        lg.QuerySamplesComplete(
            [lg.QuerySampleResponse(i, r.ctypes.data, r.nbytes) for (i, _), r in zip(group, rows, strict=True)]
        )

    def _watch(self) -> None:
        # A runtime that fails an inference may never call back; LoadGen would then wait forever.
        while not self._stop.wait(1.0):
            if self._outstanding and time.monotonic() - self._last_activity > self._stall_s:
                self._fail(f"no completion for {self._stall_s:.0f} s", list(self._outstanding))

    def _fail(self, message: str, ids: list[int]) -> None:
        self.errors.append(message)
        for i in ids:
            self._outstanding.discard(i)
        self._lg.QuerySamplesComplete([self._lg.QuerySampleResponse(i, 0, 0) for i in ids])
        self._last_activity = time.monotonic()

    def close(self) -> None:
        """Stop the threads, drain the runtime, free LoadGen's handle; runtime failures are raised here."""
        self._pending.put(None)
        self._stop.set()
        for t in self._threads:
            t.join()
        self._lg.DestroySUT(self.handle)
        try:
            self._async.wait_all()
        finally:
            self._async.close()  # breaks the callback cycle, so find-peak's many runs do not pile up models
        if self.errors:
            raise BackendError(f"the SUT failed: {self.errors[0]}")


@dataclass
class LoadGenRun:
    """One LoadGen test's inputs: where its logs go and how it is set up."""

    out_dir: Path
    values: dict[str, Any]
    accuracy: bool = False
    trace: bool = False
    stall_s: float = 60.0
    groups: SampleGroups | None = None
    batch: int = 1  # samples per inference
    output_meta: tuple[str, tuple[int, ...]] | None = field(default=None, init=False)
    timings: list[tuple[int, float]] = field(default_factory=list, init=False)  # the SUT's (index, ms)
    service_ms: list[float] = field(default_factory=list, init=False)  # in-run service times (LoadGenSUT)


def run_loadgen(engine: Engine, input_sets: Sequence[InputSet], requests: int, run: LoadGenRun) -> Result:
    """One LoadGen test over ``input_sets``; returns the parsed result and keeps the logs in ``run.out_dir``."""
    lg = import_loadgen()
    run.out_dir.mkdir(parents=True, exist_ok=True)
    count = len(input_sets)
    # Samples live in memory already: nothing to load or unload.
    qsl = lg.ConstructQSL(count, count, _no_op, _no_op)
    sut = LoadGenSUT(
        lg, engine, input_sets, requests, respond_with_outputs=run.accuracy, stall_s=run.stall_s, batch=run.batch
    )
    if run.values.get("scenario") == "Offline":
        sut.measure_from = "submit"
    try:
        lg.StartTestWithLogSettings(
            sut.handle, qsl, build_settings(lg, run.values, run.accuracy), _log_settings(lg, run.out_dir, run.trace)
        )
    finally:
        lg.DestroyQSL(qsl)
        sut.close()
    run.output_meta = sut.output_meta
    run.timings = sut.timings
    run.service_ms = sut.service_ms
    result = parse_logs(run.out_dir)
    if run.groups is not None:
        result["per_group"] = per_group_latency(run.groups, sut.timings, sut.measure_from)
    return result


def _no_op(_: list[int]) -> None:
    return None


def _log_settings(lg: Any, out_dir: Path, trace: bool) -> Any:
    output = lg.LogOutputSettings()
    output.outdir = str(out_dir)
    output.copy_summary_to_stdout = False
    settings = lg.LogSettings()
    settings.log_output = output
    settings.enable_trace = trace  # the trace grows ~200 kB a second; opt-in
    return settings


# ---------------------------------------------------------------- reading LoadGen's logs


class Metric(TypedDict):
    """The scenario's headline metric as LoadGen names it."""

    name: str
    value: Any
    unit: str


class Result(TypedDict, total=False):
    """The figures a result document keeps from one LoadGen test (the log's keys, in our units).

    A performance run has a validity and a metric; an accuracy run neither (``validity``, ``valid``,
    ``metric`` are None). Server runs add the scheduled rate and, judged by the caller, the ideal queue."""

    scenario: str
    mode: Any
    validity: str | None
    valid: bool | None
    why_invalid: list[str]
    metric: Metric | None
    latency_ms: dict[str, float | None]
    query_count: Any
    samples_per_query: Any
    target_qps: Any
    target_latency_ms: float | None
    target_latency_percentile: Any
    min_duration_ms: Any
    min_query_count: Any
    early_stopping: str | None
    loadgen_version: Any
    errors: Any
    query_latency_ms: dict[str, float | None]
    scheduled_samples_per_second: Any
    overlatency_query_count: Any
    early_stopping_p90_ms: float | None
    accuracy_sample_count: Any
    logs: list[str]
    per_group: Any
    ideal_queue: IdealQueue


def read_detail_log(path: Path) -> dict[str, Any]:
    """Every ``:::MLLOG`` key of LoadGen's detail log with its (last) value."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise BackendError(f"cannot read LoadGen's log {path}: {exc.strerror}") from None
    values: dict[str, Any] = {}
    for line in lines:
        _, sep, payload = line.partition(":::MLLOG ")
        if not sep:
            continue
        try:
            entry = json.loads(payload)
        except json.JSONDecodeError:
            continue  # LoadGen escapes its strings; a torn last line is all this can skip
        values[str(entry.get("key"))] = entry.get("value")
    return values


_METRICS = {
    "SingleStream": ("90th percentile latency", "result_90.00_percentile_latency_ns", "ms"),
    "MultiStream": ("99th percentile per-query latency", "result_99.00_percentile_per_query_latency_ns", "ms"),
    "Server": ("completed samples per second", "result_completed_samples_per_sec", "samples/s"),
    "Offline": ("samples per second", "result_samples_per_second", "samples/s"),
}
_PERCENTILES = ("50.00", "90.00", "95.00", "97.00", "99.00", "99.90")


def _ms(ns: Any) -> float | None:
    return float(ns) / 1e6 if isinstance(ns, int | float) else None


def _latencies(raw: dict[str, Any], kind: str = "") -> dict[str, float | None]:
    out = {
        "min": _ms(raw.get(f"result_min_{kind or ''}latency_ns")),
        "mean": _ms(raw.get(f"result_mean_{kind or ''}latency_ns")),
        "max": _ms(raw.get(f"result_max_{kind or ''}latency_ns")),
    }
    for p in _PERCENTILES:
        name = "p" + p.rstrip("0").rstrip(".")
        out[name] = _ms(raw.get(f"result_{p}_percentile_{'per_query_' if kind else ''}latency_ns"))
    return out


def why_invalid(raw: dict[str, Any]) -> list[str]:
    """LoadGen's reasons for an INVALID result, one short line each."""
    reasons = []
    if raw.get("result_perf_constraints_met") is False:
        reasons.append("performance constraints not met: the latency percentile is over the target")
    if raw.get("result_min_duration_met") is False:
        reasons.append("min duration not met")
    if raw.get("result_min_queries_met") is False:
        reasons.append("min query count not met")
    if raw.get("early_stopping_met") is False:
        # Token-latency runs log one early-stopping verdict per bound (TTFT, TPOT) instead of one.
        keys = ("early_stopping_result", "early_stopping_ttft_result", "early_stopping_tpot_result")
        said = " ".join(" ".join(str(raw.get(k)).split()) for k in keys if raw.get(k) and str(raw.get(k)).strip())
        reasons.append("early stopping not satisfied" + (f": {said}" if said else ""))
    extra = str(raw.get("result_invalid_reason") or "").strip()
    if extra:
        reasons.append(extra)
    return reasons


def summarize_detail(raw: dict[str, Any]) -> Result:
    """The figures a result document keeps from LoadGen's detail log."""
    scenario = str(raw.get("effective_scenario") or raw.get("requested_scenario") or "")
    if raw.get("effective_test_mode") == "AccuracyOnly":
        return _accuracy_summary(raw, scenario)
    if "result_validity" not in raw:
        raise BackendError("LoadGen's detail log has no result (did the test finish?)")
    name, key, unit = _METRICS.get(scenario, ("", "", ""))
    value = raw.get(key)
    metric: Metric = {"name": name, "value": _ms(value) if unit == "ms" else value, "unit": unit}
    validity = str(raw["result_validity"])
    doc: Result = {
        "scenario": scenario,
        "mode": raw.get("effective_test_mode"),
        "validity": validity,
        "valid": validity == "VALID",
        "why_invalid": why_invalid(raw) if validity != "VALID" else [],
        "metric": metric,
        "latency_ms": _latencies(raw),
        "query_count": raw.get("result_query_count"),
        "samples_per_query": raw.get("effective_samples_per_query"),
        "target_qps": raw.get("effective_target_qps"),
        "target_latency_ms": _ms(raw.get("effective_target_latency_ns")) or None,
        "target_latency_percentile": raw.get("effective_target_latency_percentile"),
        "min_duration_ms": raw.get("effective_min_duration_ms"),
        "min_query_count": raw.get("effective_min_query_count"),
        "early_stopping": " ".join(str(raw.get("early_stopping_result") or "").split()) or None,
        "loadgen_version": raw.get("loadgen_version"),
        "errors": raw.get("num_errors"),
    }
    if scenario == "MultiStream":
        doc["query_latency_ms"] = _latencies(raw, "query_")
    if scenario == "Server":
        doc["scheduled_samples_per_second"] = raw.get("result_scheduled_samples_per_sec")
        doc["overlatency_query_count"] = raw.get("result_overlatency_query_count")
    if scenario == "SingleStream":
        doc["early_stopping_p90_ms"] = _ms(raw.get("early_stopping_latency_ss"))
    return doc


def _accuracy_summary(raw: dict[str, Any], scenario: str) -> Result:
    # Accuracy mode issues every sample once and judges no performance: there is no validity to read.
    return {
        "scenario": scenario,
        "mode": "AccuracyOnly",
        "validity": None,
        "valid": None,
        "why_invalid": [],
        "metric": None,
        "latency_ms": {},
        "query_count": raw.get("generated_query_count"),
        "accuracy_sample_count": raw.get("effective_accuracy_sample_count"),
        "loadgen_version": raw.get("loadgen_version"),
        "errors": raw.get("num_errors"),
    }


def parse_logs(out_dir: Path) -> Result:
    """Summary of the LoadGen test whose logs are in ``out_dir``, with the log files it left."""
    doc = summarize_detail(read_detail_log(out_dir / "mlperf_log_detail.txt"))
    doc["logs"] = [str(out_dir / f) for f in LOG_FILES if (out_dir / f).exists()]
    return doc


# ---------------------------------------------------------------- accuracy mode


def read_accuracy_log(path: Path, meta: tuple[str, tuple[int, ...]]) -> dict[int, np.ndarray]:
    """qsl index -> the output LoadGen logged for it (the first response per index wins)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BackendError(f"cannot read LoadGen's accuracy log {path}: {exc}") from None
    dtype, shape = np.dtype(meta[0]), meta[1]
    outputs: dict[int, np.ndarray] = {}
    for entry in entries:
        index = int(entry["qsl_idx"])
        if index not in outputs:
            outputs[index] = np.frombuffer(bytes.fromhex(entry["data"]), dtype=dtype).reshape(shape)
    return outputs


def score_outputs(outputs: dict[int, np.ndarray], labels: np.ndarray) -> Scores:
    """Top-1/top-5 with Clopper-Pearson intervals, as the accuracy evaluator scores them."""
    missing = sorted(set(range(labels.shape[0])) - set(outputs))
    if missing:
        raise InputSpecError(f"LoadGen logged no output for {len(missing)} samples (first: {missing[0]})")
    logits = np.stack([outputs[i].reshape(-1) for i in range(labels.shape[0])])
    return score(logits, labels).to_dict()


# ---------------------------------------------------------------- Server: the peak rate under a p99 bound
