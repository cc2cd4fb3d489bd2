"""Runtime auto-tuner: optuna over the knobs each backend declares, then an interleaved verification.

Three rungs, each costlier and fewer (successive halving in spirit):

1. short trials sampled by TPE (or NSGA-II for a front), each in a fresh worker
   process so a crash, a hang or a memory blow-up costs only that trial;
2. the best few re-measured with longer runs, again in fresh workers;
3. the finalists and a reference configuration compiled side by side in one
   worker and measured A B C A B C … for several rounds; the winner is
   declared only if its per-round ratio against each rival has an interval
   above 1 — otherwise the tie is reported.

Duplicated samples (TPE re-proposing a measured configuration) are answered
from the record instead of being measured again.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from inferperf.config import Knob, RuntimeConfig, TuneOptions
from inferperf.errors import ConfigError
from inferperf.jsonform import JsonRecord
from inferperf.measure.trials import TrialInputs, WorkerCandidate, stream_length
from inferperf.measure.worker import run_worker
from inferperf.model.info import ModelInfo
from inferperf.optimize.tuner_core import gain, geo_mean, importances, pareto_front, quiet_optuna, tpe_sampler, verdict

Progress = Callable[[float, str], None]
Checkpoint = Callable[[dict[str, Any]], None]
_MAX_DUPLICATES = 30  # consecutive re-proposals that mean the sampler has nothing new to offer
_RUNG1_SIZE = 6  # at most; fewer when rung 0 measured few (a quarter of them)
_RUNG1_FACTOR = 2.5
_MIN_ROUNDS = 5  # a t-interval on fewer per-round ratios is too wide to call anything


@dataclass(frozen=True)
class Target:
    """A (backend, model variant) pair and the knobs its backend declares for it."""

    backend: str
    variant: str
    info: ModelInfo
    knobs: tuple[Knob, ...]
    name: str | None = None  # set for the reference, which stands outside the searched space

    @property
    def key(self) -> str:
        """Stable name used as the categorical choice."""
        return self.name or f"{self.backend}:{self.variant}"

    def size(self) -> int:
        """Number of distinct configurations of this target."""
        return math.prod(len(k.choices) for k in self.knobs)


@dataclass
class TrialRecord(JsonRecord):
    """One measured (or failed) configuration."""

    number: int
    rung: int
    target: str
    params: dict[str, Any]
    config: dict[str, Any]
    status: str  # ok | failed
    wall_s: float
    throughput: dict[str, Any] | None = None
    latency: dict[str, Any] | None = None
    peak_mb: float | None = None
    error: str | None = None
    feasible: bool | None = None
    violations: list[str] = field(default_factory=list)

    def value(self, objective: str) -> float:
        """The objective as a number to maximise (throughput, or minus the median latency)."""
        assert self.throughput is not None and self.latency is not None
        if objective == "throughput":
            return float(self.throughput["value"])
        return -float(self.latency["median"]["value"])


def params_key(target: str, params: dict[str, Any]) -> str:
    """A hashable identity for a configuration."""
    return json.dumps([target, params], sort_keys=True)


def build_config(base: RuntimeConfig, target: Target, params: dict[str, Any]) -> RuntimeConfig:
    """The RuntimeConfig a target's knob values describe."""
    config = base.with_(backend=target.backend)
    for knob in target.knobs:
        config = knob.apply(config, params.get(knob.name))
    return config


def space_size(targets: Sequence[Target]) -> int:
    """Number of configurations in the whole space (what an exhaustive grid would measure)."""
    return sum(t.size() for t in targets)


def grid(targets: Sequence[Target]) -> list[tuple[Target, dict[str, Any]]]:
    """Every configuration of the space, target by target."""
    import itertools

    out: list[tuple[Target, dict[str, Any]]] = []
    for target in targets:
        names = [k.name for k in target.knobs]
        for values in itertools.product(*(k.choices for k in target.knobs)):
            out.append((target, dict(zip(names, values, strict=True))))
    return out


class TrialRunner:
    """Runs trials in worker processes and judges them against the constraints."""

    def __init__(
        self,
        base: RuntimeConfig,
        options: TuneOptions,
        scenario: str,
        inputs: TrialInputs,
        worker_argv: list[str] | None = None,
    ) -> None:
        self.base, self.options, self.scenario, self.inputs = base, options, scenario, inputs
        self.worker_argv = worker_argv
        self.records: list[TrialRecord] = []

    def run(self, target: Target, params: dict[str, Any], rung: int, seconds: float) -> TrialRecord:
        """Measure one configuration for ``seconds``; a failure becomes a failed record."""
        number = len(self.records)
        try:
            config = build_config(self.base, target, params)
        except ConfigError as exc:  # an invalid combination is a failed trial, not a crash
            rec = TrialRecord(number, rung, target.key, params, {}, "failed", 0.0, error=str(exc))
            self.records.append(rec)
            return rec
        job = {
            "task": "trial",
            "backend": target.backend,
            "model_info": target.info.to_dict(),
            "config": config.to_dict(),
            "scenario": self.scenario,
            "time_s": seconds,
            "warmup_s": min(1.0, seconds / 3),
            "inputs": self.inputs,
        }
        result = run_worker(job, self.options.trial_timeout_s + seconds, self.worker_argv)
        rec = TrialRecord(number, rung, target.key, params, config.to_dict(), "ok", result.wall_s)
        if not result.ok:
            rec.status, rec.error = "failed", result.error
        else:
            run = result.data["run"]
            rec.throughput, rec.latency = run["throughput_fps"], run["latency_ms"]
            rec.peak_mb = float(result.data["peak_mb"])
            # What the trial fed and counted, as the worker saw it: the config's batch is reconciled
            # with the tensors there, so a recommendation never claims a batch that did not run.
            rec.config = {
                **rec.config,
                "batch": run["config"].get("batch", rec.config.get("batch")),
                "effective": run["effective"],
                "fed_shapes": run.get("fed_shapes"),
            }
            self._judge(rec)
        self.records.append(rec)
        return rec

    def _judge(self, rec: TrialRecord) -> None:
        assert rec.latency is not None
        p99_high = float(rec.latency["p99"]["ci95"][1])
        if self.options.p99_max_ms is not None and p99_high > self.options.p99_max_ms:
            rec.violations.append(f"p99 upper bound {p99_high:.2f} ms > {self.options.p99_max_ms:g} ms")
        if self.options.memory_max_mb is not None and (rec.peak_mb or 0.0) > self.options.memory_max_mb:
            rec.violations.append(f"peak memory {rec.peak_mb:.0f} MB > {self.options.memory_max_mb:g} MB")
        rec.feasible = not rec.violations

    def constraints(self, rec: TrialRecord) -> list[float]:
        """optuna's convention: <= 0 is feasible, positive is by how much a bound is missed."""
        assert rec.latency is not None
        p99_high = float(rec.latency["p99"]["ci95"][1])
        p99 = p99_high - self.options.p99_max_ms if self.options.p99_max_ms is not None else -1.0
        mem = (rec.peak_mb or 0.0) - self.options.memory_max_mb if self.options.memory_max_mb is not None else -1.0
        return [p99, mem]


def make_study(options: TuneOptions) -> Any:
    """An optuna study: TPE (constraint-aware), or NSGA-II for a throughput/p99 front.

    Constraints reach the samplers through ``Trial.set_constraint`` (optuna >= 5).
    """
    import optuna

    quiet_optuna()
    if options.front:
        sampler: Any = optuna.samplers.NSGAIISampler(population_size=8, seed=options.seed)
        return optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    sampler = tpe_sampler(options.seed, startup=6, group=True)
    if options.objective == "throughput":
        return optuna.create_study(direction="maximize", sampler=sampler)
    return optuna.create_study(direction="minimize", sampler=sampler)


def _values(rec: TrialRecord, options: TuneOptions) -> list[float]:
    assert rec.throughput is not None and rec.latency is not None
    if options.front:
        return [float(rec.throughput["value"]), float(rec.latency["p99"]["value"])]
    if options.objective == "throughput":
        return [float(rec.throughput["value"])]
    return [float(rec.latency["median"]["value"])]


class Search:
    """Rung 0: the optuna loop over short trials."""

    def __init__(self, runner: TrialRunner, targets: Sequence[Target], options: TuneOptions) -> None:
        self.runner, self.targets, self.options = runner, {t.key: t for t in targets}, options
        self.study = make_study(options)
        self.seen: dict[str, TrialRecord] = {}
        self.duplicates = 0

    def _suggest(self, trial: Any) -> tuple[Target, dict[str, Any]]:
        target = self.targets[trial.suggest_categorical("target", list(self.targets))]
        params = {
            k.name: trial.suggest_categorical(f"{target.backend}.{k.name}", list(k.choices)) for k in target.knobs
        }
        return target, params

    def step(self) -> TrialRecord | None:
        """Ask, measure (or recall), tell. Returns the new record, or None for a recalled duplicate."""
        from optuna.trial import TrialState

        trial = self.study.ask()
        target, params = self._suggest(trial)
        key = params_key(target.key, params)
        rec = self.seen.get(key)
        fresh = rec is None
        if rec is None:
            rec = self.runner.run(target, params, 0, self.options.trial_s)
            self.seen[key] = rec
            self.duplicates = 0
        else:
            self.duplicates += 1
        if rec.status != "ok":
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            for name, value in zip(("p99", "memory"), self.runner.constraints(rec), strict=True):
                trial.set_constraint(name, value)
            self.study.tell(trial, _values(rec, self.options))
        return rec if fresh else None

    def exhausted(self) -> bool:
        """Every configuration measured, or the sampler keeps re-proposing old ones."""
        return len(self.seen) >= space_size(list(self.targets.values())) or self.duplicates >= _MAX_DUPLICATES


def latest_ok(records: Sequence[TrialRecord]) -> dict[str, TrialRecord]:
    """The most recent successful measurement of each configuration (later rungs are longer, so better)."""
    out: dict[str, TrialRecord] = {}
    for rec in records:
        if rec.status == "ok":
            out[params_key(rec.target, rec.params)] = rec
    return out


def ranked(records: Sequence[TrialRecord], objective: str) -> list[TrialRecord]:
    """Feasible configurations, best first; infeasible ones after them (a budget may admit none)."""
    recs = list(latest_ok(records).values())
    return sorted(recs, key=lambda r: (not r.feasible, -r.value(objective)))


def pareto(records: Sequence[TrialRecord]) -> list[int]:
    """Trial numbers on the front of (max throughput, min p99, min peak memory)."""
    points = {}
    for rec in latest_ok(records).values():
        assert rec.throughput is not None and rec.latency is not None
        points[rec.number] = (-float(rec.throughput["value"]), float(rec.latency["p99"]["value"]), rec.peak_mb or 0.0)
    return pareto_front(points)


def explain(winner: TrialRecord, records: Sequence[TrialRecord], objective: str) -> list[dict[str, Any]]:
    """For each knob, the measured neighbours that differ from the winner in that knob alone."""
    rows: list[dict[str, Any]] = []
    pool = latest_ok(records).values()
    for name in [*winner.params, "target"]:
        for rec in pool:
            same_target = rec.target == winner.target
            if name == "target":
                differs = not same_target and rec.params == winner.params
            else:
                others = {k: v for k, v in rec.params.items() if k != name}
                differs = same_target and rec.params.get(name) != winner.params.get(name)
                differs = differs and others == {k: v for k, v in winner.params.items() if k != name}
            if differs:
                ratio = _ratio(winner, rec, objective)
                value = rec.target if name == "target" else rec.params.get(name)
                chosen = winner.target if name == "target" else winner.params.get(name)
                rows.append({"knob": name, "winner": chosen, "neighbour": value, "ratio": ratio})
    return sorted(rows, key=lambda r: -abs(math.log(r["ratio"])) if r["ratio"] > 0 else 0)


def _ratio(a: TrialRecord, b: TrialRecord, objective: str) -> float:
    """How much better ``a`` is than ``b`` (>1 is better), from their own measurements."""
    va, vb = a.value(objective), b.value(objective)
    if objective == "throughput":
        return va / vb if vb > 0 else math.inf
    return vb / va if va != 0 else math.inf  # values are negated latencies


@dataclass
class Tuning:
    """Everything a tuning session produced; ``to_dict`` is the result document's body."""

    options: TuneOptions
    scenario: str
    space: dict[str, Any]
    records: list[TrialRecord] = field(default_factory=list)
    final: dict[str, Any] | None = None
    recommendation: dict[str, Any] | None = None
    importances: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    wall_s: float = 0.0
    stages_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "options": self.options.to_dict(),
            "scenario": self.scenario,
            "space": self.space,
            "trials": [r.to_dict() for r in self.records],
            "pareto": pareto(self.records),
            "final": self.final,
            "recommendation": self.recommendation,
            "importances": self.importances,
            "interrupted": self.interrupted,
            "wall_s": self.wall_s,
            "stages_s": self.stages_s,
        }


class Chosen(TypedDict):
    """What a recommendation names: the trial, its target and knobs, the runtime config bench --config
    reads back, and what the runtime reported it ran."""

    trial: int
    target: str
    backend: str
    variant: str
    model: str
    scenario: str
    params: dict[str, Any]
    runtime: dict[str, Any]
    effective: Any
    fed_shapes: Any


class Tuner:
    """Runs the three rungs within the time budget; Ctrl-C keeps what finished."""

    def __init__(self, targets: Sequence[Target], reference: Target, runner: TrialRunner) -> None:
        """``runner`` measures every trial: its options, scenario, inputs and worker are the search's too."""
        self.targets, self.reference, self.runner = list(targets), reference, runner
        options, scenario = runner.options, runner.scenario
        self.options, self.scenario, self.inputs = options, scenario, runner.inputs
        self.worker_argv = runner.worker_argv
        self.search = Search(self.runner, self.targets, options)
        space = {t.key: {k.name: list(k.choices) for k in t.knobs} for t in self.targets}
        self.result = Tuning(options, scenario, {"targets": space, "size": space_size(self.targets)})
        self.result.records = self.runner.records
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the tuner started."""
        return time.perf_counter() - self.t0

    def run(self, progress: Progress | None = None, checkpoint: Checkpoint | None = None) -> Tuning:
        """Search, re-measure, verify. Returns the (possibly partial) result."""
        note = progress or (lambda _f, _t: None)
        save = checkpoint or (lambda _d: None)
        try:
            self._stage("reference", lambda: self.runner.run(self.reference, {}, 0, self.options.trial_s))
            self._stage("search", lambda: self._rung0(note, save))
            self._stage("remeasure", lambda: self._rung1(note, save))
            self._stage("verify", lambda: self._verify(note))
        except KeyboardInterrupt:
            self.result.interrupted = True
        self.result.importances = importances(self.search.study)
        self.result.wall_s = self.elapsed()
        return self.result

    def _stage(self, name: str, fn: Callable[[], object]) -> None:
        t = time.perf_counter()
        try:
            fn()
        finally:
            self.result.stages_s[name] = time.perf_counter() - t

    def _overhead_s(self) -> float:
        """Seconds a trial costs beyond its measuring time (process start, import, compile, warm-up)."""
        done = [r for r in self.runner.records if r.status == "ok" and r.rung == 0]
        if not done:
            return 3.0
        return max(0.5, float(np.median([r.wall_s for r in done])) - self.options.trial_s)

    def _rung1_size(self) -> int:
        fresh = sum(1 for r in self.runner.records if r.rung == 0)
        return min(_RUNG1_SIZE, max(2, fresh // 4))

    def _round_s(self) -> float:
        stream = stream_length(self.inputs)
        if stream:
            # A shape stream is measured in whole passes: a round lasts one pass, whatever --round-time says.
            rates = [float(r.throughput["value"]) for r in self.runner.records if r.status == "ok" and r.throughput]
            rates = [x for x in rates if x > 0]
            if rates:
                return float(np.median([int(stream) / x for x in rates]))
        return self.options.round_s or max(2.0, self.options.trial_s)

    def _reserve_s(self) -> float:
        """Time to keep for re-measuring and verifying, from what trials have cost so far."""
        overhead, t = self._overhead_s(), self.options.trial_s
        n = self.options.finalists + 1
        rung1 = self._rung1_size() * (overhead + _RUNG1_FACTOR * t)
        verify = n * overhead + _MIN_ROUNDS * n * (self._round_s() + 0.5)
        return rung1 + verify

    def _rung0(self, note: Progress, save: Checkpoint) -> None:
        cap = self.options.max_trials or 10**9
        fresh = 0
        while fresh < cap and not self.search.exhausted():
            deadline = max(self.options.budget_s - self._reserve_s(), self.options.budget_s * 0.3)
            if self.elapsed() >= deadline and fresh >= 2:
                break
            rec = self.search.step()
            if rec is None:
                continue
            fresh += 1
            note(min(self.elapsed() / self.options.budget_s, 1.0), _describe(rec, self.options.objective))
            save(self.result.to_dict())

    def _rung1(self, note: Progress, save: Checkpoint) -> None:
        top = [r for r in ranked(self.runner.records, self.options.objective) if r.target != self.reference.key]
        seconds = self.options.trial_s * _RUNG1_FACTOR
        for rec in top[: self._rung1_size()]:
            verify = (self.options.finalists + 1) * (self._overhead_s() + _MIN_ROUNDS * (self._round_s() + 0.5))
            if self.elapsed() + verify > self.options.budget_s:
                break
            target = self.search.targets[rec.target]
            new = self.runner.run(target, rec.params, 1, seconds)
            note(
                min(self.elapsed() / self.options.budget_s, 1.0), "re-measure " + _describe(new, self.options.objective)
            )
            save(self.result.to_dict())

    def _finalists(self) -> list[TrialRecord]:
        ranking = [r for r in ranked(self.runner.records, self.options.objective) if r.target != self.reference.key]
        return ranking[: self.options.finalists]

    def _verify(self, note: Progress) -> None:
        finalists = self._finalists()
        if not finalists:
            return
        ref_rec = next((r for r in self.runner.records if r.target == self.reference.key and r.status == "ok"), None)
        entries = [*finalists, *([ref_rec] if ref_rec else [])]
        labels = [f"#{r.number}" for r in finalists] + (["reference"] if ref_rec else [])
        rounds, seconds = self._round_plan(len(entries))
        note(
            min(self.elapsed() / self.options.budget_s, 1.0),
            f"verifying {len(entries)} configurations, {rounds} rounds",
        )
        job = {
            "task": "interleave",
            "scenario": self.scenario,
            "rounds": rounds,
            "seconds": seconds,
            "inputs": self.inputs,
            "candidates": [self._candidate(r) for r in entries],
        }
        timeout = self.options.trial_timeout_s * len(entries) + rounds * len(entries) * (seconds + 1) * 2
        result = run_worker(job, timeout, self.worker_argv)
        if not result.ok:
            self.result.final = {"error": result.error, "labels": labels}
            self._recommend_unverified(finalists[0])
            return
        self._conclude(entries, labels, result.data, rounds, seconds)

    def _round_plan(self, n: int) -> tuple[int, float]:
        seconds = self._round_s()
        left = self.options.budget_s - self.elapsed() - n * 3.0  # compile and start-up, roughly
        if stream_length(self.inputs):
            left -= n * seconds  # each candidate's warm pass over the shape stream
        rounds = int(left // (n * (seconds + 0.5))) if left > 0 else 0
        return min(max(rounds, _MIN_ROUNDS), 10), seconds

    def _candidate(self, rec: TrialRecord) -> WorkerCandidate:
        target = self.reference if rec.target == self.reference.key else self.search.targets[rec.target]
        config = {k: v for k, v in rec.config.items() if k not in ("effective", "fed_shapes")}
        return {"backend": target.backend, "model_info": target.info.to_dict(), "config": config}

    def _conclude(
        self, entries: list[TrialRecord], labels: list[str], data: dict[str, Any], rounds: int, seconds: float
    ) -> None:
        cands = data["candidates"]
        higher = self.options.objective == "throughput"
        per_round = [c["throughput_fps_per_round"] if higher else c["median_ms_per_round"] for c in cands]
        feasible = [self._final_feasible(rec, c) for rec, c in zip(entries, cands, strict=True)]
        centres = [geo_mean(v) for v in per_round]
        order = sorted(range(len(entries)), key=lambda i: (not feasible[i], -centres[i] if higher else centres[i]))
        win = order[0]
        self.result.final = {
            "rounds": rounds,
            "seconds_per_round": seconds,
            "labels": labels,
            "trial_numbers": [r.number for r in entries],
            "candidates": cands,
            "feasible": feasible,
            "verdict": verdict(win, per_round, labels, higher),
            "wall_s": data.get("wall_s"),
        }
        self._recommend(entries[win], labels, per_round, win, feasible[win], cands[win])

    def _final_feasible(self, rec: TrialRecord, cand: dict[str, Any]) -> bool:
        p99_high = float(cand["latency_ms"]["p99"]["ci95"][1])
        if self.options.p99_max_ms is not None and p99_high > self.options.p99_max_ms:
            return False
        return self.options.memory_max_mb is None or (rec.peak_mb or 0.0) <= self.options.memory_max_mb

    def _recommend(
        self,
        rec: TrialRecord,
        labels: list[str],
        per_round: list[list[float]],
        win: int,
        ok: bool,
        cand: dict[str, Any],
    ) -> None:
        higher = self.options.objective == "throughput"
        vs_ref = None
        if "reference" in labels:
            ci = gain(per_round[win], per_round[labels.index("reference")], higher)
            vs_ref = {"ratio": ci.value, "ci95": [ci.low, ci.high], "method": ci.method}
        self.result.recommendation = {
            **self._rec_fields(rec),
            "verified": True,
            "meets_constraints": ok,
            "throughput_fps": geo_mean(per_round[win]) if higher else None,
            "latency_ms": cand["latency_ms"],
            "vs_reference": vs_ref,
            "explanation": explain(rec, self.runner.records, self.options.objective) if rec.params else [],
        }

    def _recommend_unverified(self, rec: TrialRecord) -> None:
        self.result.recommendation = {
            **self._rec_fields(rec),
            "verified": False,
            "meets_constraints": bool(rec.feasible),
            "explanation": explain(rec, self.runner.records, self.options.objective),
        }

    def _rec_fields(self, rec: TrialRecord) -> Chosen:
        target = self.reference if rec.target == self.reference.key else self.search.targets[rec.target]
        return {
            "trial": rec.number,
            "target": rec.target,
            "backend": target.backend,
            "variant": target.variant,
            "model": str(target.info.path),
            "scenario": self.scenario,
            "params": rec.params,
            "runtime": {k: v for k, v in rec.config.items() if k not in ("effective", "fed_shapes")},
            "effective": rec.config.get("effective"),
            "fed_shapes": rec.config.get("fed_shapes"),
        }


def _describe(rec: TrialRecord, objective: str) -> str:
    if rec.status != "ok":
        return f"trial {rec.number} failed"
    assert rec.throughput is not None and rec.latency is not None
    flag = "" if rec.feasible else " (over budget)"
    return f"trial {rec.number}: {rec.throughput['value']:.1f} fps, p99 {rec.latency['p99']['value']:.2f} ms{flag}"
