"""The runtime search of a decoder LLM under serving load: weight format x KV-cache precision x scheduler.

Each trial loads OpenVINO GenAI's continuous-batching pipeline with one configuration and serves the
same seeded requests at the same concurrency (closed loop); its figures are that level's output tokens/s,
goodput and p99 TTFT/TPOT. optuna's TPE proposes the configurations (the SLOs are its constraints),
starting from the uncompressed default. The winner is then measured against that default in interleaved
rounds (both pipelines loaded, the same requests, one after the other in each round), so the speed-ups
carry paired intervals that the machine's drift does not widen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from inferperf.backends.serving import ServingEngine
from inferperf.errors import InferperfError, runtime_cause
from inferperf.measure.serving import (
    Level,
    Load,
    ServeOptions,
    genai_engine,
    meets_p99,
    meets_slos,
    p99s,
    run_load,
)
from inferperf.optimize.tuner_core import gain, pareto_front, quiet_optuna, tpe_sampler

OBJECTIVES = {"tokens": "output_tokens_per_s", "goodput": "goodput_requests_per_s"}
_MAX_DUPLICATES = 12  # the sampler re-proposing measured configurations this often: the space is covered


class LlmCandidateRecord(TypedDict):
    """A serving configuration as the result lists it: its fields and its label."""

    weights: str
    kv_cache: str | None
    max_num_seqs: int
    max_num_batched_tokens: int | None
    dynamic_split_fuse: bool | None
    label: str


@dataclass(frozen=True)
class LlmCandidate:
    """One configuration: the weights' variant, the KV cache's element type and the scheduler's knobs."""

    weights: str = "fp32"
    kv_cache: str | None = None  # None: the device's default
    max_num_seqs: int = 64
    max_num_batched_tokens: int | None = None  # None: GenAI's default (256)
    dynamic_split_fuse: bool | None = None  # None: GenAI's default (on)

    @property
    def label(self) -> str:
        """Short name: weights, KV cache, then the scheduler knobs set away from the defaults."""
        parts = [self.weights, f"kv {self.kv_cache or 'default'}", f"seqs {self.max_num_seqs}"]
        if self.max_num_batched_tokens is not None:
            parts.append(f"batched {self.max_num_batched_tokens}")
        if self.dynamic_split_fuse is not None:
            parts.append("split-fuse " + ("on" if self.dynamic_split_fuse else "off"))
        return ", ".join(parts)

    def serve_options(self, base: ServeOptions) -> ServeOptions:
        """``base`` with this candidate's engine settings."""
        return replace(
            base,
            kv_cache=self.kv_cache,
            max_num_seqs=self.max_num_seqs,
            max_num_batched_tokens=self.max_num_batched_tokens,
            dynamic_split_fuse=self.dynamic_split_fuse,
        )

    def to_dict(self) -> LlmCandidateRecord:
        """JSON form, with the label."""
        return {
            "weights": self.weights,
            "kv_cache": self.kv_cache,
            "max_num_seqs": self.max_num_seqs,
            "max_num_batched_tokens": self.max_num_batched_tokens,
            "dynamic_split_fuse": self.dynamic_split_fuse,
            "label": self.label,
        }


class LlmTrialRecord(TypedDict):
    """A trial as the result lists it: its configuration, how it went, and the level's figures."""

    number: int
    candidate: LlmCandidateRecord
    status: str
    error: str | None
    seconds: float
    load_ms: float | None
    feasible: bool
    figures: NotRequired[dict[str, float]]  # a trial that ran


@dataclass
class LlmTrial:
    """One measured configuration (or why it could not be)."""

    number: int
    candidate: LlmCandidate
    status: str = "ok"  # ok | failed
    error: str | None = None
    seconds: float = 0.0
    load_ms: float | None = None
    level: Level | None = None
    feasible: bool = False

    def value(self, objective: str) -> float:
        """The objective's figure (output tokens/s, or goodput in requests/s)."""
        assert self.level is not None
        return figures(self.level)[OBJECTIVES[objective]]

    def to_dict(self) -> LlmTrialRecord:
        """JSON form: the level's figures without the per-request rows."""
        out: LlmTrialRecord = {
            "number": self.number,
            "candidate": self.candidate.to_dict(),
            "status": self.status,
            "error": self.error,
            "seconds": self.seconds,
            "load_ms": self.load_ms,
            "feasible": self.feasible,
        }
        if self.level is not None:
            out["figures"] = figures(self.level)
        return out


def figures(level: Level) -> dict[str, float]:
    """The headline numbers of one serving level."""
    return {
        "output_tokens_per_s": float(level["output_tokens_per_s"]),
        "goodput_requests_per_s": float(level["slo"]["goodput_requests_per_s"]),
        "slo_attainment": float(level["slo"]["attainment"]),
        "ttft_p99_ms": float(level["ttft_ms"]["p99"]["value"]),
        "tpot_p99_ms": float(level["tpot_ms"]["p99"]["value"]),
        "ttft_median_ms": float(level["ttft_ms"]["median"]["value"]),
        "tpot_median_ms": float(level["tpot_ms"]["median"]["value"]),
    }


def choices(
    weights: Sequence[str], kv_caches: Sequence[str | None], concurrency: int, prompt_max: int, default_seqs: int
) -> dict[str, list[Any]]:
    """The search space. Sequences beyond the concurrency never run together, so max_num_seqs stops at it
    (beside the default's own value); batched-token budgets are multiples of the longest prompt, so every
    one is valid with split-fuse off."""
    seqs = sorted({1, *(s for s in (2, 4, 8, 16, 32, 64) if s <= concurrency), concurrency, default_seqs})
    return {
        "weights": list(weights),
        "kv_cache": list(kv_caches),
        "max_num_seqs": seqs,
        "max_num_batched_tokens": [None, *(prompt_max * k for k in (1, 2, 4, 8))],
        "dynamic_split_fuse": [None, False],
    }


def space_size(space: dict[str, list[Any]]) -> int:
    """How many distinct configurations the space holds."""
    return int(np.prod([len(v) for v in space.values()]))


class Runner:
    """Loads and serves one candidate at a time."""

    def __init__(
        self,
        folders: dict[str, Path],
        device: str,
        base: ServeOptions,
        load: Load,
        prompts: Callable[[int], list[int]],
    ) -> None:
        self.folders, self.device, self.base, self.load, self.prompts = folders, device, base, load, prompts

    def engine(self, cand: LlmCandidate) -> ServingEngine:
        """The pipeline of ``cand``, warmed up by two requests (not kept)."""
        opts = cand.serve_options(self.base)
        engine = genai_engine(self.folders[cand.weights], self.device, opts)
        run_load(engine, self.prompts, Load("concurrency", 1), replace(opts, requests=2))
        return engine

    def run(self, number: int, cand: LlmCandidate) -> LlmTrial:
        """Measure ``cand``; a configuration the runtime refuses is a failed trial, not a failed search."""
        trial = LlmTrial(number, cand)
        t0 = time.perf_counter()
        try:
            engine = self.engine(cand)
            trial.load_ms = engine.load_ms
            opts = cand.serve_options(self.base)
            trial.level = run_load(engine, self.prompts, self.load, opts)
            trial.feasible = meets_p99(trial.level, opts)
            del engine
        except (InferperfError, RuntimeError, ValueError) as exc:
            trial.status, trial.error = "failed", runtime_cause(exc)
        trial.seconds = time.perf_counter() - t0
        return trial


def _constraints(trial: LlmTrial, base: ServeOptions) -> list[float]:
    """optuna's convention: <= 0 feasible; positive: by what fraction a p99 misses its SLO."""
    assert trial.level is not None
    out = []
    for key, bound in (("ttft_ms", base.ttft_max_ms), ("tpot_ms", base.tpot_max_ms), ("e2e_ms", base.e2e_max_ms)):
        out.append(-1.0 if bound is None else p99s(trial.level)[key] / bound - 1.0)
    return out


def search(
    runner: Runner,
    space: dict[str, list[Any]],
    objective: str,
    deadline: Callable[[Sequence[LlmTrial]], bool],
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[LlmTrial]:
    """TPE over ``space`` until ``deadline(trials so far)`` says stop or the space is covered; the default
    (uncompressed weights, every knob at its default) goes first."""
    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution
    from optuna.trial import TrialState

    quiet_optuna()
    study = optuna.create_study(direction="maximize", sampler=tpe_sampler(seed, startup=4))
    # Categorical choices must be plain values: None travels as the string "default".
    dists: dict[str, BaseDistribution] = {k: CategoricalDistribution([_enc(c) for c in v]) for k, v in space.items()}
    study.enqueue_trial({"weights": space["weights"][0], "kv_cache": "default", **_default_knobs(runner.base)})
    seen: dict[LlmCandidate, LlmTrial] = {}
    trials: list[LlmTrial] = []
    duplicates = 0
    while not deadline(trials) and len(seen) < space_size(space) and duplicates < _MAX_DUPLICATES:
        ask = study.ask(dists)
        cand = LlmCandidate(**{k: _dec(v) for k, v in ask.params.items()})
        trial = seen.get(cand)
        if trial is None:
            if progress is not None:
                progress(f"trial {len(trials) + 1}: {cand.label}")
            trial = runner.run(len(trials), cand)
            seen[cand] = trial
            trials.append(trial)
            duplicates = 0
        else:
            duplicates += 1
        if trial.status != "ok":
            study.tell(ask, state=TrialState.FAIL)
            continue
        for i, value in enumerate(_constraints(trial, runner.base)):
            ask.set_constraint(f"slo{i}", value)
        study.tell(ask, trial.value(objective))
    return trials


class SchedulerKnobs(TypedDict):
    """The continuous-batching scheduler's knobs as the search encodes them ("default": GenAI's own)."""

    max_num_seqs: int
    max_num_batched_tokens: int | str
    dynamic_split_fuse: bool | str


def _default_knobs(base: ServeOptions) -> SchedulerKnobs:
    return {"max_num_seqs": base.max_num_seqs, "max_num_batched_tokens": "default", "dynamic_split_fuse": "default"}


def _enc(value: Any) -> Any:
    return "default" if value is None else value


def _dec(value: Any) -> Any:
    return None if value == "default" else value


def best(trials: Sequence[LlmTrial], objective: str) -> LlmTrial | None:
    """The measured configuration with the highest objective among those meeting the SLOs."""
    ok = [t for t in trials if t.status == "ok" and t.feasible]
    return max(ok, key=lambda t: t.value(objective)) if ok else None


def pareto(trials: Sequence[LlmTrial]) -> list[int]:
    """Numbers of the trials no other beats on both output tokens/s (higher) and p99 TTFT (lower)."""
    points = {t.number: (-t.value("tokens"), figures(t.level)["ttft_p99_ms"]) for t in trials if t.level is not None}
    return pareto_front(points)


def finalists(trials: Sequence[LlmTrial], objective: str, default: LlmCandidate, count: int = 2) -> list[LlmTrial]:
    """The best ``count`` measured configurations meeting the SLOs, the default left out (it is verified
    against anyway): one short trial each picked them, so the best of them is partly luck."""
    ok = [t for t in trials if t.status == "ok" and t.feasible and t.candidate != default]
    return sorted(ok, key=lambda t: t.value(objective), reverse=True)[:count]


class Verification(TypedDict):
    """The finalists against the default over interleaved rounds: per-round figures, paired speed-ups,
    pooled p99s against the SLOs, and the winner (None: no finalist met them)."""

    rounds: int
    candidates: dict[str, LlmCandidateRecord]
    per_round: dict[str, dict[str, list[float]]]
    speedups: dict[str, dict[str, Any]]
    pooled_p99: dict[str, dict[str, float]]
    meets_slo: dict[str, bool]
    winner: str | None
    speedup: dict[str, Any] | None
    raw: dict[str, list[dict[str, Any]]]


def verify(
    runner: Runner,
    baseline: LlmCandidate,
    finalists_: Sequence[LlmCandidate],
    rounds: int,
    objective: str = "tokens",
    progress: Callable[[str], None] | None = None,
) -> Verification:
    """Every pipeline loaded; per round each serves the same requests in turn. Paired ratios per round
    against the default: output tokens/s and goodput (finalist / default), TTFT and TPOT medians (default /
    finalist: > 1 is faster); the SLOs checked on each one's requests of every round pooled. The winner is
    the finalist meeting the SLOs with the highest objective ratio."""
    cands = {"default": baseline, **{f"finalist {i + 1}": c for i, c in enumerate(finalists_)}}
    engines = {name: runner.engine(c) for name, c in cands.items()}
    per: dict[str, dict[str, list[float]]] = {name: {} for name in engines}
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in engines}
    for r in range(rounds):
        for name, engine in engines.items():
            if progress is not None:
                progress(f"verification round {r + 1}/{rounds}: {name}")
            level = run_load(engine, runner.prompts, runner.load, cands[name].serve_options(runner.base))
            for key, value in figures(level).items():
                per[name].setdefault(key, []).append(value)
            raw[name].extend(level["raw"])
    d = per["default"]
    speedups: dict[str, dict[str, Any]] = {
        name: {
            "output_tokens_per_s": gain(w["output_tokens_per_s"], d["output_tokens_per_s"], True).to_dict(),
            "goodput": gain(
                np.maximum(w["goodput_requests_per_s"], 1e-9), np.maximum(d["goodput_requests_per_s"], 1e-9), True
            ).to_dict(),
            "ttft_median": gain(w["ttft_median_ms"], d["ttft_median_ms"], False).to_dict(),
            "tpot_median": gain(w["tpot_median_ms"], d["tpot_median_ms"], False).to_dict(),
        }
        for name, w in per.items()
        if name != "default"
    }
    pooled = {name: _pooled_p99(rows) for name, rows in raw.items()}
    meets = {name: meets_slos(p, runner.base) for name, p in pooled.items()}
    key = "output_tokens_per_s" if objective == "tokens" else "goodput"
    ranked = sorted((n for n in speedups if meets[n]), key=lambda n: float(speedups[n][key]["value"]), reverse=True)
    winner = ranked[0] if ranked else None
    return {
        "rounds": rounds,
        "candidates": {name: c.to_dict() for name, c in cands.items()},
        "per_round": per,
        "speedups": speedups,
        "pooled_p99": pooled,
        "meets_slo": meets,
        "winner": winner,
        "speedup": speedups[winner] if winner else None,
        "raw": raw,
    }


def _pooled_p99(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {key: float(np.percentile([r[key] for r in rows], 99)) for key in ("ttft_ms", "tpot_ms", "e2e_ms")}
