"""The tuner core both searches configure: optuna's sampler set up one way, the Pareto front, and how a
verified winner is judged against its rivals. ``optimize.tuner`` (runtime knobs of a CNN) and
``optimize.llm_tuner`` (weights, KV cache and scheduler of a decoder LLM) bring their own knobs,
objective and runs."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from inferperf.stats import Interval, paired_ratio_ci


def quiet_optuna() -> None:
    """optuna logs every trial at INFO: the searches print their own progress."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def tpe_sampler(seed: int, startup: int, group: bool = False) -> Any:
    """Multivariate TPE (constraint-aware through ``Trial.set_constraint``), seeded."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate/group: "experimental"
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=group, n_startup_trials=startup)


def gain(winner: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray, higher_better: bool) -> Interval:
    """How far ahead the winner is, paired by round: > 1 is better whichever way the objective points."""
    return paired_ratio_ci(winner, other) if higher_better else paired_ratio_ci(other, winner)


def pareto_front(points: Mapping[int, Sequence[float]]) -> list[int]:
    """The keys of the points no other point dominates; every coordinate is minimised (negate a maximum)."""

    def dominates(q: Sequence[float], p: Sequence[float]) -> bool:
        return all(a <= b for a, b in zip(q, p, strict=True)) and any(a < b for a, b in zip(q, p, strict=True))

    return sorted(k for k, p in points.items() if not any(dominates(q, p) for o, q in points.items() if o != k))


def importances(study: Any) -> dict[str, float]:
    """optuna's parameter importances, when it can compute them (needs enough completed trials)."""
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "too few trials per regime": the figures are shown as indicative
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}  # too few completed trials, or a single-valued parameter: nothing honest to show


class Rival(TypedDict):
    """The winner against one rival: the paired per-round ratio and its interval."""

    against: str
    ratio: float
    ci95: list[float]
    significant: bool


class Verdict(TypedDict):
    """The verified winner, its rivals, and the ones it does not beat significantly."""

    winner: str
    against: list[Rival]
    tied_with: list[str]
    text: str


def verdict(winner: int, per_round: list[list[float]], labels: list[str], higher_better: bool) -> Verdict:
    """Winner against each rival: paired per-round ratio with its interval; ties named."""
    rows: list[Rival] = []
    tied: list[str] = []
    for i, values in enumerate(per_round):
        if i == winner:
            continue
        ci = gain(per_round[winner], values, higher_better)
        significant = ci.low > 1.0
        if not significant:
            tied.append(labels[i])
        rows.append({"against": labels[i], "ratio": ci.value, "ci95": [ci.low, ci.high], "significant": significant})
    text = (
        f"{labels[winner]} wins, significantly ahead of every other finalist"
        if not tied
        else f"{labels[winner]} is ahead, but not significantly ahead of: {', '.join(tied)}"
    )
    return {"winner": labels[winner], "against": rows, "tied_with": tied, "text": text}


def geo_mean(values: Sequence[float]) -> float:
    """Geometric mean of positive values (the centre of per-round ratios)."""
    arr = np.asarray(values, dtype=float)
    return float(np.exp(np.mean(np.log(np.maximum(arr, 1e-12)))))
