"""``inferperf optimize``: the whole flow, one step after another, each saved as it finishes.

doctor → baseline (ONNX Runtime's default session, batch 1, one request) → bench
on each backend → cold start → memory → INT8 with the accuracy guard → tuning
over variants and runtime knobs → latency/throughput sweep of the winner →
interleaved verification of the winner against the baseline → accuracy of the
winner → report. A failing step is recorded and the flow goes on with what it
has; Ctrl-C stops it and the report is written from the finished steps.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from inferperf.config import OptimizeOptions, RunLimits, RuntimeConfig, TuneOptions
from inferperf.errors import InferperfError
from inferperf.jsonform import NOT_IN_JSON, JsonRecord
from inferperf.measure.target import ShapeSpec, header
from inferperf.measure.trials import WorkerCandidate
from inferperf.measure.worker import run_worker
from inferperf.model import load_model_info
from inferperf.results.documents import (
    AccuracyCheckDocument,
    BenchDocument,
    DoctorDocument,
    Document,
    DynamicDocument,
    OptimizeDocument,
    SweepDocument,
    TuneDocument,
    VerifyDocument,
)
from inferperf.results.schema import save_json
from inferperf.stats import paired_ratio_ci


def _commands() -> Any:
    """The commands the flow runs, by name (the flow sits beside them, below the public façade)."""
    from types import SimpleNamespace

    from inferperf.commands import guarded, inspect, startup, tune, workloads
    from inferperf.measure.bench import bench

    return SimpleNamespace(
        bench=bench,
        doctor=inspect.doctor,
        accuracy=inspect.accuracy,
        coldstart=startup.coldstart,
        memory=startup.memory,
        quantize=guarded.quantize,
        tune=tune.tune,
        dynamic=workloads.dynamic,
    )


def _bounded_first(backends: tuple[str, ...]) -> str:
    """The first backend that can keep dims open between bounds (so every strategy runs), else the first."""
    from inferperf.backends import get_backend

    return next((b for b in backends if get_backend(b, check=False).bounded_dims), backends[0])


# status(step title, short text)
Status = Callable[[str, str], None]
_TUNE_MIN_S = 60.0
_AFTER_TUNE_S = 100.0  # sweep, verification, accuracy and report: what to keep back from the tuner


@dataclass
class Step(JsonRecord):
    """One step's outcome: where its result went, or why it has none."""

    name: str
    title: str
    status: str = "pending"  # ok | failed | skipped | interrupted
    seconds: float = 0.0
    error: str | None = None
    path: str | None = None
    doc: Document | None = field(default=None, repr=False, metadata=NOT_IN_JSON)


class Pipeline:
    """Runs the steps in order; each one's result JSON is written as soon as it exists."""

    def __init__(self, model: str | Path, out: Path, options: OptimizeOptions, status: Status | None = None) -> None:
        self.model, self.out, self.options = str(model), out, options
        self.status = status or (lambda _t, _s: None)
        self.steps: list[Step] = []
        self.t0 = time.perf_counter()
        self.cores = 1
        self.interrupted = False

    # -- plumbing -----------------------------------------------------------------------------

    def scaled(self, seconds: float) -> float:
        """A measuring time, scaled by the options' time_scale."""
        return seconds * self.options.time_scale

    def limits(self, seconds: float) -> RunLimits:
        """A fixed-time run of ``seconds`` (scaled), with a warm-up of a fifth of it."""
        return RunLimits(time_s=self.scaled(seconds), warmup_s=self.scaled(seconds) / 5)

    def elapsed(self) -> float:
        """Seconds since the flow started."""
        return time.perf_counter() - self.t0

    def step(self, name: str, title: str, fn: Callable[[], Document | None]) -> Document | None:
        """Run one step; record success, a failure (the flow goes on), or Ctrl-C (the flow stops)."""
        st = Step(name, title)
        self.steps.append(st)
        self.status(title, "running")
        t = time.perf_counter()
        try:
            doc = fn()
        except InferperfError as exc:
            st.status, st.error = "failed", exc.one_line()
            doc = None
        except KeyboardInterrupt:
            st.status, st.seconds = "interrupted", time.perf_counter() - t
            self.interrupted = True
            raise
        st.seconds = time.perf_counter() - t
        if doc is None:
            st.status = "skipped" if st.status == "pending" else st.status
        else:
            st.status, st.doc = "ok", doc
            st.path = str(save_json(doc, self.out / f"{len(self.steps):02d}-{name}.json"))
        self.status(title, st.status if st.error is None else f"failed: {st.error}")
        return doc

    def doc(self, name: str) -> Document | None:
        """The result of a finished step, if it succeeded."""
        return next((s.doc for s in self.steps if s.name == name and s.doc is not None), None)

    # -- the flow -----------------------------------------------------------------------------

    def run(self) -> None:
        """Every step in order. KeyboardInterrupt propagates after being recorded."""
        api = _commands()
        info = load_model_info(self.model)
        self.step("doctor", "doctor check", self._doctor)
        self.step("baseline", "baseline (ONNX Runtime defaults)", lambda: self._baseline(api))
        self.step("bench", "bench on each backend", lambda: self._bench(api))
        self.step("coldstart", "first inference (cold start)", lambda: self._coldstart(api))
        self.step(
            "memory",
            "memory per phase",
            lambda: api.memory(
                self.model,
                steady_s=self.scaled(2.0),
                leak_iterations=int(self.scaled(300)),
                shapes=self.guard_stream(),
            ),
        )
        self.step("quantize", "INT8 with accuracy guard", lambda: self._quantize(api))
        self.step("tune", "tuning variants and runtime knobs", lambda: self._tune(api))
        self.step("sweep", "latency-throughput sweep", lambda: self._sweep(api))
        self.step("verify", "verification against the baseline", lambda: self._verify(info))
        self.step("accuracy", "accuracy of the winner", lambda: self._accuracy(api))

    def guard_stream(self) -> ShapeSpec | None:
        """``--shapes`` for the steps that take one, or None."""
        o = self.options
        return ShapeSpec(o.shapes, o.shape_histogram, o.stream) if o.shapes else None

    def _dynamic(
        self, api: Any, backend: str, strategies: tuple[str, ...], config: RuntimeConfig | None
    ) -> DynamicDocument:
        from inferperf.measure.dynamic import DynamicOptions

        opts = DynamicOptions(strategies=strategies, stream=self.options.stream, rounds=2)
        doc: DynamicDocument = api.dynamic(
            self.model, self.guard_stream(), backend=backend, options=opts, config=config
        )
        return doc

    def _doctor(self) -> DoctorDocument:
        doc: DoctorDocument = _commands().doctor(measure_peak=False)
        self.cores = int((doc.environment or {})["cpu"]["cores"] or 1)
        return doc

    def baseline_config(self) -> RuntimeConfig:
        """What a user gets without tuning: ONNX Runtime's default session (intra-op threads = physical cores),
        batch 1, one request in flight."""
        return RuntimeConfig(backend="onnxruntime", threads=self.cores, requests=1, batch=1)

    def _baseline(self, api: Any) -> DynamicDocument | BenchDocument:
        if self.options.shapes:
            return self._dynamic(api, "onnxruntime", ("dynamic",), self.baseline_config())
        limits = self.limits(8.0)
        result = api.bench(
            self.model, backends=("onnxruntime",), mode="throughput", config=self.baseline_config(), limits=limits
        )
        return BenchDocument.from_dict(result.to_dict())

    def _bench(self, api: Any) -> DynamicDocument | BenchDocument:
        if self.options.shapes:
            # On a shape stream the first question is how to compile for it: every strategy on one stream.
            backend = _bounded_first(self.options.backends)
            return self._dynamic(api, backend, ("dynamic", "bounded", "buckets", "largest"), None)
        limits = self.limits(5.0)
        result = api.bench(self.model, backends=self.options.backends, mode="both", limits=limits)
        return BenchDocument.from_dict(result.to_dict())

    def _coldstart(self, api: Any) -> Document:
        cache = self.out / "model-cache"
        doc: Document = api.coldstart(self.model, runs=3, cache_dir=cache, shapes=self.guard_stream())
        return doc

    def _quantize(self, api: Any) -> Document:
        out = self.out / "work" / "model-int8.xml"
        from inferperf.config import QuantizeOptions
        from inferperf.optimize.quantize import looks_like_transformer

        # With data, the data's own inputs calibrate and judge; without, the shape stream's synthetic ones.
        shapes = self.guard_stream() if self.options.data is None else None
        transformer = looks_like_transformer(load_model_info(self.model))
        doc: Document = api.quantize(
            self.model,
            data=self.options.data,
            max_drop=self.options.max_drop,
            out=out,
            rounds=3,
            seconds=3.0,
            shapes=shapes,
            options=QuantizeOptions(transformer=transformer),
        )
        return doc

    def int8_variant(self) -> str | None:
        """The accepted INT8 model, when quantization produced one."""
        doc = self.doc("quantize")
        if not doc or not doc.get("winner"):
            return None
        written = [c.get("written_to") for c in doc.get("candidates", []) if c.get("written_to")]
        return str(written[0]) if written else None

    def _tune(self, api: Any) -> TuneDocument:
        left = self.options.budget_s - self.elapsed() - self.scaled(_AFTER_TUNE_S)
        options = TuneOptions(
            budget_s=max(self.scaled(_TUNE_MIN_S), left),
            p99_max_ms=self.options.p99_max_ms,
            memory_max_mb=self.options.memory_max_mb,
            trial_s=self.scaled(1.5),
            round_s=self.scaled(2.0),
        )
        variant = self.int8_variant()
        progress = lambda f, text: self.status("tuning variants and runtime knobs", f"{f * 100:.0f}% {text}")  # noqa: E731
        doc: TuneDocument = api.tune(
            self.model,
            backends=self.options.backends,
            variants=[variant] if variant else [],
            options=options,
            progress=progress,
            shapes=self.guard_stream(),
        )
        return doc

    def winner(self) -> dict[str, Any] | None:
        """The tuner's recommendation, when there is one."""
        doc = self.doc("tune")
        return doc.recommendation if isinstance(doc, TuneDocument) else None

    def _sweep(self, api: Any) -> SweepDocument | None:
        rec = self.winner()
        if rec is None:
            return None
        if self.options.shapes:
            return self._stream_sweep(api, rec)
        base = RuntimeConfig.from_dict(rec["runtime"])
        points = []
        for requests in (1, 2, 4, 8):
            cfg = base.with_(requests=requests)
            result = api.bench(
                rec["model"],
                backends=(base.backend,),
                mode="throughput",
                config=cfg,
                limits=self.limits(2.5),
            )
            run = result.runs[0]
            points.append(
                {
                    "series": f"{rec['target']} (tuned)",
                    "requests": requests,
                    "throughput_fps": run.throughput_fps,
                    "latency_ms": run.latency_ms,
                }
            )
        env = dict(result.environment)
        return SweepDocument.from_dict({**header("sweep", environment=env), "model": rec["model"], "points": points})

    def _stream_sweep(self, api: Any, rec: dict[str, Any]) -> SweepDocument:
        """Requests in flight over the shape stream, on the winner's open-dims engine."""
        from inferperf.measure.dynamic import DynamicOptions

        base = RuntimeConfig.from_dict(rec["runtime"])
        points = []
        env: dict[str, Any] | None = None
        for requests in (1, 2, 4):
            opts = DynamicOptions(strategies=("dynamic",), stream=self.options.stream, rounds=2, requests=requests)
            doc: DynamicDocument = api.dynamic(
                rec["model"],
                self.guard_stream() or "",
                backend=base.backend,
                options=opts,
                config=base.with_(requests=requests),
            )
            env, strat = doc.environment, doc.strategies[0]
            if strat["status"] != "ok":
                raise VerificationError(f"sweep at {requests} requests failed: {strat['error']}")
            points.append(
                {
                    "series": f"{rec['target']} (tuned, shape stream)",
                    "requests": requests,
                    "throughput_fps": strat["throughput"],
                    "latency_ms": strat["latency_ms"],
                }
            )
        return SweepDocument.from_dict({**header("sweep", environment=env), "model": rec["model"], "points": points})

    def _verify(self, info: Any) -> VerifyDocument | None:
        rec, stream = self.winner(), self.guard_stream()
        if rec is None:
            return None
        winner_info = load_model_info(rec["model"])
        cands: list[WorkerCandidate] = [
            {"backend": "onnxruntime", "model_info": info.to_dict(), "config": self.baseline_config().to_dict()},
            {"backend": rec["backend"], "model_info": winner_info.to_dict(), "config": rec["runtime"]},
        ]
        job = {
            "task": "interleave",
            "scenario": "throughput",
            "rounds": self.options.verify_rounds,
            "seconds": self.scaled(self.options.verify_round_s),
            "inputs": {"seed": 0, **({"shapes": stream.to_dict()} if stream else {})},
            "candidates": cands,
        }
        result = run_worker(job, 1800)
        if not result.ok:
            raise VerificationError(f"verification failed: {result.error}")
        base, win = (c["throughput_fps_per_round"] for c in result.data["candidates"])
        ci = paired_ratio_ci(win, base)
        return VerifyDocument.from_dict(
            {
                **header("verify"),
                "rounds": self.options.verify_rounds,
                "seconds_per_round": self.options.verify_round_s,
                "labels": ["baseline (ONNX Runtime defaults)", f"winner: {rec['target']}"],
                "candidates": result.data["candidates"],
                "configs": [c["config"] for c in cands],
                "speedup": {"value": ci.value, "ci95": [ci.low, ci.high], "method": ci.method},
            }
        )

    def _accuracy(self, api: Any) -> AccuracyCheckDocument | None:
        rec = self.winner()
        data = self.options.data or ("builtin" if self.model == "builtin" else None)
        if rec is None or data is None:
            return None
        from dataclasses import asdict

        from inferperf.inputs.dataset import model_preprocess

        cfg = RuntimeConfig.from_dict(rec["runtime"])
        # The variant (an IR, say) may not carry the original's pre-processing metadata: score both alike.
        prep = asdict(model_preprocess(load_model_info(self.model)))
        ref = api.accuracy(self.model, data=data, backend="onnxruntime", preprocess=prep)
        win = api.accuracy(
            rec["model"], data=data, backend=rec["backend"], config=cfg.with_(batch=1, requests=None), preprocess=prep
        )
        return AccuracyCheckDocument.from_dict(
            {
                **header("accuracy-check"),
                "data": data,
                "baseline": ref.to_dict(),
                "winner": win.to_dict(),
                "drop": _top1(ref) - _top1(win),
                "max_drop": self.options.max_drop,
            }
        )

    # -- outputs ------------------------------------------------------------------------------

    def copy_artifacts(self) -> dict[str, str]:
        """The optimized model (with its weights file) and the recommended config, next to the results."""
        rec = self.winner()
        written: dict[str, str] = {}
        if rec is None:
            return written
        src = Path(rec["model"])
        dst = self.out / ("optimized-model" + src.suffix)
        shutil.copyfile(src, dst)
        if src.suffix == ".xml" and src.with_suffix(".bin").exists():
            shutil.copyfile(src.with_suffix(".bin"), dst.with_suffix(".bin"))
        written["model"] = str(dst)
        config = {
            "runtime": rec["runtime"],
            "limits": {},
            "model": str(dst),
            "scenario": rec["scenario"],
            "source": "inferperf optimize",
        }
        written["config"] = str(save_json(config, self.out / "recommended-config.json"))
        return written


class VerificationError(InferperfError):
    """The final side-by-side measurement could not run."""

    exit_code = 3


def _top1(doc: Mapping[str, Any]) -> float:
    top1 = doc["top1"]
    return float(top1["value"] if isinstance(top1, dict) else top1)


class Headline(TypedDict):
    """What won, its verified speed-up over the baseline and accuracy drop (when those steps ran), and the
    float precisions the runs executed."""

    winner: dict[str, Any] | None
    baseline_fps: NotRequired[float]
    winner_fps: NotRequired[float]
    speedup: NotRequired[dict[str, Any]]
    accuracy_drop: NotRequired[float]
    accuracy_ok: NotRequired[bool]
    executed_precision: NotRequired[dict[str, list[str]]]
    precision_note: NotRequired[str]


def headline(p: Pipeline) -> Headline:
    """The figures a reader wants first: speed-up over the baseline, accuracy drop, what won."""
    verify, acc, rec = p.doc("verify"), p.doc("accuracy"), p.winner()
    out: Headline = {"winner": rec and {k: rec[k] for k in ("target", "backend", "variant", "params", "runtime")}}
    if verify:
        base, win = (c["throughput_fps_per_round"] for c in verify["candidates"])
        out["baseline_fps"] = _geo(base)
        out["winner_fps"] = _geo(win)
        out["speedup"] = verify["speedup"]
    if acc:
        out["accuracy_drop"] = acc["drop"]
        out["accuracy_ok"] = acc["drop"] <= p.options.max_drop
    out["executed_precision"] = executed_precisions(s.doc for s in p.steps if s.doc)
    cross = next((d["cross_check"] for s in p.steps if (d := s.doc) and d.get("cross_check")), None)
    if cross and cross.get("note"):
        out["precision_note"] = cross["note"]
    return out


def executed_precisions(docs: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Per backend, the float precisions its measured runs executed (as each runtime reported them)."""
    seen: dict[str, set[str]] = {}
    for doc in docs:
        for run in doc.get("runs", []) if isinstance(doc, Mapping) else []:
            precision = (run.get("effective") or {}).get("executed_precision")
            if precision:
                seen.setdefault(str(run.get("backend") or run.get("config", {}).get("backend")), set()).add(precision)
    return {backend: sorted(p) for backend, p in sorted(seen.items())}


def _geo(values: list[float]) -> float:
    import math

    return math.exp(sum(math.log(v) for v in values) / len(values))


def result_document(p: Pipeline, artifacts: dict[str, str]) -> OptimizeDocument:
    """The optimize run's own result: options, steps (with their files), headline, artifacts."""
    env = next((s.doc.environment for s in p.steps if s.doc and s.doc.environment), None)
    return OptimizeDocument.from_dict(
        {
            **header("optimize", environment=env),
            "model": p.model,
            "options": p.options.to_dict(),
            "steps": [s.to_dict() for s in p.steps],
            "headline": headline(p),
            "artifacts": artifacts,
            "interrupted": p.interrupted,
            "wall_s": p.elapsed(),
        }
    )
