"""MLPerf LoadGen's Server and Offline scenarios for a decoder LLM, with token latencies.

LoadGen issues the queries (Poisson arrivals at the target rate for Server, everything at once for
Offline); the SUT feeds them to OpenVINO GenAI's continuous-batching pipeline and reports each sample's
first token (``FirstTokenComplete``) and its end with its token count (``QuerySamplesComplete``), so
LoadGen itself judges TTFT and TPOT against the bounds as MLPerf's LLM rules do (``use_token_latencies``).
One thread owns the pipeline: LoadGen's issue thread only queues.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.serving import ServingEngine, TokenEvent
from inferperf.errors import BackendError, ConfigError
from inferperf.measure.loadgen_sut import (
    Settings,
    _log_settings,
    build_settings,
    import_loadgen,
    read_detail_log,
    why_invalid,
)

LLM_SCENARIOS = {"server": "Server", "offline": "Offline"}
# MLPerf Inference's Llama-2-70B Server bounds, the defaults when no SLO is given (and said so).
MLPERF_TTFT_MS, MLPERF_TPOT_MS = 2000.0, 200.0


@dataclass(frozen=True)
class LlmScenarioOptions:
    """The LoadGen test of a generative model: scenario, rate, token bounds, lengths and run size."""

    scenario: str = "server"
    target_qps: float | None = None  # Server; default: half the closed-loop capacity the probe measures
    ttft_max_ms: float | None = None
    tpot_max_ms: float | None = None
    prompt_tokens: int = 128
    new_tokens: int = 32
    samples: int = 32  # the QSL: distinct prompts, reused by LoadGen as it needs
    min_query_count: int = 32
    min_duration_s: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.scenario not in LLM_SCENARIOS:
            raise ConfigError(
                f"invalid `scenario` {self.scenario!r} for a generative model: {', '.join(LLM_SCENARIOS)} "
                "(token latencies are defined for these)"
            )
        for name in ("target_qps", "ttft_max_ms", "tpot_max_ms", "min_duration_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"invalid `{name}` {value!r}: must be > 0")
        if self.new_tokens < 2 or self.samples < 1 or self.min_query_count < 1:
            raise ConfigError("`new_tokens` must be at least 2, `samples` and `min_query_count` at least 1")

    def values(self, target_qps: float) -> Settings:
        """LoadGen's TestSettings fields (ns where LoadGen wants ns)."""
        out: Settings = {
            "scenario": LLM_SCENARIOS[self.scenario],
            "use_token_latencies": True,
            "min_duration_ms": int(self.min_duration_s * 1e3),
            "min_query_count": self.min_query_count,
            "ttft_latency": int((self.ttft_max_ms or MLPERF_TTFT_MS) * 1e6),
            "tpot_latency": int((self.tpot_max_ms or MLPERF_TPOT_MS) * 1e6),
        }
        if self.scenario == "server":
            out["server_target_qps"] = target_qps
        else:
            out["offline_expected_qps"] = target_qps
        return out


class GenAISut:
    """LoadGen's samples onto the continuous-batching pipeline, one owner thread stepping it."""

    def __init__(self, lg: Any, engine: ServingEngine, prompts: Sequence[list[int]], new_tokens: int) -> None:
        self._lg, self._engine, self._prompts, self._new = lg, engine, prompts, new_tokens
        self._pending: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self.errors: list[str] = []
        self.first_token_ms: list[float] = []  # the SUT's own clock: issue to first token, per sample
        self._thread = threading.Thread(target=self._loop, name="inferperf-genai-sut", daemon=True)
        self._thread.start()
        self.handle = lg.ConstructSUT(self.issue_query, self.flush_queries)

    def issue_query(self, samples: list[Any]) -> None:
        """LoadGen's issue thread: queue and return."""
        for s in samples:
            self._pending.put((int(s.id), int(s.index)))

    def flush_queries(self) -> None:
        """Nothing is held back."""

    def _loop(self) -> None:
        active: dict[int, _Sample] = {}
        next_id = 0
        while not (self._stop.is_set() and not active and self._pending.empty()):
            try:
                while True:
                    sample_id, index = self._pending.get(timeout=0.005 if not active else 0)
                    self._engine.submit(next_id, self._prompts[index], self._new)
                    active[next_id] = _Sample(sample_id, time.perf_counter())
                    next_id += 1
            except queue.Empty:
                pass
            if not active:
                continue
            try:
                events = self._engine.step(0.005)
            except BackendError as exc:
                self._fail(str(exc), active)
                continue
            self._collect(events, active)

    def _collect(self, events: list[TokenEvent], active: dict[int, _Sample]) -> None:
        lg = self._lg
        for event in events:
            s = active[event.request_id]
            s.tokens.extend(event.ids or [0] * event.tokens)
            if s.tokens and not s.first_sent:
                data = np.asarray(s.tokens[:1], dtype=np.int32)
                lg.FirstTokenComplete([lg.QuerySampleResponse(s.sample_id, data.ctypes.data, data.nbytes)])
                self.first_token_ms.append((time.perf_counter() - s.issued) * 1e3)
                s.first_sent = True
            if event.finished:
                data = np.asarray(s.tokens, dtype=np.int32)
                response = lg.QuerySampleResponse(s.sample_id, data.ctypes.data, data.nbytes, len(s.tokens))
                lg.QuerySamplesComplete([response])
                if event.error or len(s.tokens) != self._new:
                    why = event.error or f"asked for exactly {self._new} new tokens, a sample got {len(s.tokens)}"
                    self.errors.append(why)
                del active[event.request_id]

    def _fail(self, message: str, active: dict[int, _Sample]) -> None:
        # LoadGen waits for every sample it issued: answer them all, then fail after the test.
        self.errors.append(message)
        self._lg.QuerySamplesComplete([self._lg.QuerySampleResponse(s.sample_id, 0, 0) for s in active.values()])
        active.clear()

    def close(self) -> None:
        """Let the loop drain, free LoadGen's handle; a runtime failure is raised here."""
        self._stop.set()
        self._thread.join()
        self._lg.DestroySUT(self.handle)
        if self.errors:
            raise BackendError(f"the SUT failed: {self.errors[0]}")


@dataclass
class _Sample:
    sample_id: int
    issued: float
    first_sent: bool = False

    def __post_init__(self) -> None:
        self.tokens: list[int] = []


class TokenResult(TypedDict):
    """LoadGen's verdict on a token-latency test and its figures (ms; None where the log has none)."""

    scenario: str | None
    validity: str | None
    valid: bool
    why_invalid: list[str]
    query_count: int | None
    samples_per_second: float | None
    tokens_per_second: float | None
    ttft_bound_ms: float | None
    tpot_bound_ms: float | None
    ttft_ms: dict[str, float | None]  # min, mean, max, p50, p90, p99, p99.9
    tpot_ms: dict[str, float | None]
    early_stopping: dict[str, Any]


class Spread(TypedDict):
    """Median and p99 of a sample of times (ms), and its size."""

    median: float
    p99: float
    count: int


class LlmRun(TypedDict):
    """One LoadGen test on an LLM: the settings it ran with, its result, the SUT's own first-token times."""

    settings: Settings
    result: TokenResult
    sut_first_token_ms: Spread | None


def run_llm_loadgen(
    engine: ServingEngine,
    prompts: Sequence[list[int]],
    opts: LlmScenarioOptions,
    target_qps: float,
    out_dir: Path,
) -> LlmRun:
    """One LoadGen test; its token-latency result parsed from the detail log (kept in ``out_dir``)."""
    lg = import_loadgen()
    out_dir.mkdir(parents=True, exist_ok=True)
    values = opts.values(target_qps)
    qsl = lg.ConstructQSL(len(prompts), len(prompts), _no_op, _no_op)
    sut = GenAISut(lg, engine, prompts, opts.new_tokens)
    try:
        lg.StartTestWithLogSettings(
            sut.handle, qsl, build_settings(lg, values, False), _log_settings(lg, out_dir, False)
        )
    finally:
        lg.DestroyQSL(qsl)
        sut.close()
    raw = read_detail_log(out_dir / "mlperf_log_detail.txt")
    return {"settings": values, "result": summarize_tokens(raw), "sut_first_token_ms": _spread(sut.first_token_ms)}


def _no_op(_: list[int]) -> None:
    return None


def _spread(values: list[float]) -> Spread | None:
    if not values:
        return None
    a = np.asarray(values)
    return {"median": float(np.median(a)), "p99": float(np.percentile(a, 99)), "count": int(a.size)}


def _ms(value: Any) -> float | None:
    return float(value) / 1e6 if isinstance(value, int | float) else None


def summarize_tokens(raw: dict[str, Any]) -> TokenResult:
    """LoadGen's verdict and token figures: TTFT and TPOT percentiles (ms), tokens/s, samples/s."""
    if "result_validity" not in raw:
        raise BackendError("LoadGen's detail log has no result (did the test finish?)")
    out: TokenResult = {
        "scenario": raw.get("effective_scenario"),
        "validity": raw.get("result_validity"),
        "valid": raw.get("result_validity") == "VALID",
        "why_invalid": why_invalid(raw) if raw.get("result_validity") != "VALID" else [],
        "query_count": raw.get("result_query_count") or raw.get("generated_query_count"),
        "samples_per_second": raw.get("result_samples_per_second") or raw.get("result_completed_samples_per_sec"),
        "tokens_per_second": raw.get("result_completed_tokens_per_second") or raw.get("result_tokens_per_second"),
        "ttft_bound_ms": _ms(raw.get("requested_server_ttft_latency")),
        "tpot_bound_ms": _ms(raw.get("requested_server_tpot_latency")),
        "ttft_ms": {},
        "tpot_ms": {},
        "early_stopping": {},
    }
    # LoadGen 6's key names: TTFT "result_first_token_<p>_percentile_latency_ns" (min/mean/max likewise),
    # TPOT "result_time_per_output_token_<p>_percentile_ns" and "result_time_to_output_token_<min|mean|max>".
    percentiles = (("p50", "50.00"), ("p90", "90.00"), ("p99", "99.00"), ("p99.9", "99.90"))
    ttft = {n: raw.get(f"result_first_token_{n}_latency_ns") for n in ("min", "mean", "max")}
    ttft |= {n: raw.get(f"result_first_token_{p}_percentile_latency_ns") for n, p in percentiles}
    tpot = {n: raw.get(f"result_time_to_output_token_{n}") for n in ("min", "mean", "max")}
    tpot |= {n: raw.get(f"result_time_per_output_token_{p}_percentile_ns") for n, p in percentiles}
    out["ttft_ms"] = {k: _ms(v) for k, v in ttft.items()}
    out["tpot_ms"] = {k: _ms(v) for k, v in tpot.items()}
    early = {k: " ".join(str(raw.get(f"early_stopping_{k}_result") or "").split()) for k in ("ttft", "tpot")}
    out["early_stopping"] = {"met": raw.get("early_stopping_met"), **{k: v for k, v in early.items() if v}}
    return out


def capacity(engine: ServingEngine, prompts: Callable[[int], list[int]], opts: LlmScenarioOptions, seqs: int) -> float:
    """Requests/s of a closed loop with ``seqs`` requests in flight (the default rate's basis)."""
    from dataclasses import replace

    from inferperf.measure.serving import Load, ServeOptions, run_load

    serve = ServeOptions(prompt_tokens=opts.prompt_tokens, new_tokens=opts.new_tokens, requests=max(4, 2 * seqs))
    level = run_load(engine, prompts, Load("concurrency", seqs), replace(serve, max_num_seqs=seqs))
    return float(level["requests_per_s"])
