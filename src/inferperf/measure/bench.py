"""bench's measuring core: every (backend, scenario) run, interleaved, merged, with its compute rate.

The command layer (``inferperf.commands``) and the suite's cells call it; it resolves names itself
so that a cell in a fresh worker process runs exactly what ``inferperf bench`` runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

from inferperf.backends import Backend, get_backend
from inferperf.config import RunLimits, RuntimeConfig, Scenario
from inferperf.errors import BackendError
from inferperf.inputs import Feed, feed_sets
from inferperf.inputs.dataset import dataset_sets
from inferperf.jsonform import known_keywords
from inferperf.measure.compute import compute_fields, macs_per_item, runtime_versions
from inferperf.measure.environment import collect_environment
from inferperf.measure.peak import load_cached_peak
from inferperf.measure.runner import Progress, fit_config, merge_repeats, run_scenario
from inferperf.measure.target import ProgressFactory, created, modes
from inferperf.model import ModelInfo, load_model_info
from inferperf.results.schema import BenchResult, RunResult


def bench(
    model: str | Path,
    *,
    backends: Sequence[str] = ("openvino",),
    mode: str = "both",
    config: RuntimeConfig | None = None,
    limits: RunLimits | None = None,
    data: str | Path | None = None,
    progress_factory: ProgressFactory | None = None,
    history: str | Path | None = None,
    **feed: Unpack[Feed],
) -> BenchResult:
    """Measure latency and/or throughput of ``model`` on each backend.

    Every (backend, scenario) pair is compiled and measured apart. A runtime
    failure in one run is recorded in ``errors`` and the others still run;
    when no run succeeds, the first failure is raised. Where the history (``history``, else the
    default store) holds earlier invocations of the same configuration on this machine, the
    intervals widen to cover the noise between invocations (``covers: invocations``). ``feed``: how the
    inputs are fed (``inputs.Feed``: ``shape``, ``inputs``, ``int_range``, ``input_values``, ``seed``),
    unless ``data`` gives them.
    """
    known_keywords("bench", feed, Feed)
    config = config or RuntimeConfig()
    limits = limits or RunLimits()
    scenarios = modes(mode)
    plugins = [get_backend(name) for name in backends]  # fail fast on unknown/missing
    info_ = load_model_info(model)
    if data is not None:
        input_sets = dataset_sets(info_, data, config.batch)
    else:
        input_sets = feed_sets(info_, feed, config.batch)[1]
    shapes = {k: tuple(v.shape) for k, v in input_sets[0].items()}
    # Items per inference come from the tensors fed, never from the batch field alone.
    config = fit_config(info_, input_sets, config)
    environment = collect_environment()
    for plugin in plugins:
        environment["versions"].update(plugin.versions())
    runs, errors = _interleaved_runs(plugins, scenarios, (info_, shapes, input_sets), config, limits, progress_factory)
    macs = macs_per_item(info_, shapes, config.batch)
    if macs is not None:
        peak = load_cached_peak(environment["cpu"]["model"], runtime_versions(environment))
        runs = [replace(r, compute=compute_fields(r, macs, peak)) for r in runs]
    model_doc: dict[str, Any] = {
        **info_.to_dict(),
        "shapes": {k: list(v) for k, v in shapes.items()},
        "macs_per_item": macs,
    }
    cross, comparison = _across_backends(plugins, info_, shapes, input_sets[0], config, runs, progress_factory)
    result = BenchResult(
        model=model_doc,
        environment=environment,
        limits=limits.to_dict(),
        runs=tuple(runs),
        created=created(),
        errors=tuple(errors),
        cross_check=cross,
        comparison=comparison,
    )
    return with_rerun_noise(result, history)


def with_rerun_noise(result: BenchResult, history: str | Path | None = None) -> BenchResult:
    """``result`` with each interval widened to cover the noise between invocations, where it is known.

    The runs of one invocation share its process, its minute of the machine's life and its compile
    environment; a later invocation of the same configuration lands elsewhere by as much as the
    machine drifts between them (10-37% on shared 2-core VMs), which no interval from inside one
    invocation can see. Earlier invocations recorded in the history (same model, machine, versions
    and run config, at least MIN_INVOCATIONS of them) measure that drift directly.
    """
    from inferperf.errors import ResultError
    from inferperf.results.history import History

    doc = result.to_dict()
    try:
        store = History(history)
        reruns, machine = store.reruns(doc), store.machine_reruns(doc)
    except ResultError:
        return result  # an unreadable store takes nothing away: the intervals keep their own coverage
    runs = []
    for run in result.runs:
        earlier = dict(reruns.get((run.backend, run.scenario), {}))
        earlier.pop(str(result.created), None)
        runs.append(widen_run(run, list(earlier.values()), machine))
    return replace(result, runs=tuple(runs))


# the run's statistic -> its key among the history's figures
_FIGURE_OF = {"median": "latency_median_ms", "p90": "latency_p90_ms", "p99": "latency_p99_ms"}


def widen_run(
    run: RunResult, earlier: list[dict[str, float]], machine: Sequence[Sequence[dict[str, float]]] = ()
) -> RunResult:
    """One run with the intervals of its headline figures joined with value x exp(+-t sd_between_invocations):
    the drift of this configuration's ``earlier`` invocations, else of every group of reruns recorded on
    this machine (``machine``: History.machine_reruns)."""
    latency = dict(run.latency_ms)
    for key, figure in _FIGURE_OF.items():
        if isinstance(latency.get(key), dict):
            latency[key] = _widened(latency[key], _figures(earlier, figure), _groups(machine, figure))
    metric = "throughput_fps"
    tput = _widened(run.throughput_fps, _figures(earlier, metric), _groups(machine, metric))
    return replace(run, latency_ms=latency, throughput_fps=tput)


def _figures(invocations: Sequence[dict[str, float]], metric: str) -> list[float]:
    return [f[metric] for f in invocations if metric in f]


def _groups(machine: Sequence[Sequence[dict[str, float]]], metric: str) -> list[list[float]]:
    return [_figures(group, metric) for group in machine]


def _widened(stat: dict[str, Any], earlier: list[float], machine: list[list[float]]) -> dict[str, Any]:
    from inferperf.stats import drift_estimate, invocation_interval

    noise = drift_estimate([earlier], machine)
    if noise is None or not stat.get("value"):
        return stat
    lo, hi = invocation_interval(float(stat["value"]), noise)
    old_lo, old_hi = stat["ci95"]
    wider = lo < old_lo or old_hi is None or hi > old_hi
    return {
        **stat,
        "ci95": [min(lo, old_lo), max(hi, old_hi) if old_hi is not None else None],
        "covers": "invocations",
        "invocation_noise": noise.to_dict(),
        "dominant": "between invocations" if wider else stat.get("dominant", "within runs"),
    }


def _interleaved_runs(
    plugins: Sequence[Backend],
    scenarios: Sequence[Scenario],
    fed: tuple[ModelInfo, dict[str, tuple[int, ...]], list[dict[str, Any]]],
    config: RuntimeConfig,
    limits: RunLimits,
    progress_factory: ProgressFactory | None,
) -> tuple[list[RunResult], list[dict[str, str]]]:
    """Every (backend, scenario) run, merged over its repeats; and the failures, recorded, not raised.

    Runs are interleaved (every backend and scenario once, then again, ...) so that slow shifts of the
    machine spread over all of them instead of hitting one; see RunLimits.runs_plan for how many.
    """
    info_, shapes, input_sets = fed
    errors: list[dict[str, str]] = []
    caught: list[BackendError] = []  # raised again as they are when nothing ran: their cause stays attached
    per_key: dict[tuple[str, str], list[RunResult]] = {}
    failed: set[tuple[str, str]] = set()
    least, most, each = limits.runs_plan()
    repeat = 0
    while repeat < most and (repeat < least or _needs_more_runs(per_key)):
        for plugin in plugins:
            for scenario in scenarios:
                key = (plugin.name, scenario)
                if key in failed:
                    continue
                suffix = f" (run {repeat + 1}/{least}{'+' if most > least else ''})" if most > 1 else ""
                progress = progress_factory(f"{plugin.name} {scenario}{suffix}") if progress_factory else None
                try:
                    run = run_scenario(
                        plugin, info_, shapes, input_sets, config.with_(backend=plugin.name), scenario, each, progress
                    )
                except BackendError as exc:
                    failed.add(key)
                    caught.append(exc)
                    errors.append({"backend": plugin.name, "scenario": scenario, "error": exc.one_line()})
                    continue
                per_key.setdefault(key, []).append(run)
        repeat += 1
    runs = [merge_repeats(v) for v in per_key.values()]
    if not runs and caught:
        raise caught[0]
    return runs, errors


def _needs_more_runs(per_key: dict[tuple[str, str], list[RunResult]]) -> bool:
    """Another round of runs where an interval is still wider than RUNS_PRECISION (each run has a fixed
    length, so more runs is the only way to narrow it, whichever level dominates)."""
    from inferperf.config import RUNS_PRECISION

    for runs in per_key.values():
        merged = merge_repeats(runs)
        for stat in (merged.latency_ms["median"], merged.throughput_fps):
            value, (lo, hi) = stat["value"], stat["ci95"]
            wide = value > 0 and hi is not None and max(value - lo, hi - value) / value > RUNS_PRECISION
            if wide:
                return True
    return False


def _across_backends(
    plugins: Sequence[Backend],
    info_: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    inputs: dict[str, Any],
    config: RuntimeConfig,
    runs: Sequence[RunResult],
    progress_factory: ProgressFactory | None,
) -> tuple[Mapping[str, Any] | None, list[dict[str, Any]] | None]:
    """With several backends: do their outputs agree on one input set, and the speed ratios to the first."""
    from inferperf.measure.crosscheck import backend_ratios, cross_check

    if len(plugins) < 2:
        return None, None

    current: list[Progress] = []

    def on_backend(name: str) -> None:
        for done in current:
            done(1.0, "done")
        update = progress_factory(f"{name} cross-check") if progress_factory else None
        current[:] = [update] if update is not None else []
        for started in current:
            started(0.0, "compiling, one inference")

    cross = cross_check(plugins, info_, shapes, inputs, config, on_backend)
    for done in current:
        done(1.0, "done")
    return cross, backend_ratios(runs)
