"""The one rate search: bisection for the highest rate that meets a bound, each step judged by a majority of
short runs, and the confirming run that steps down after a miss.

Every peak finder goes through here: LoadGen's Server (``measure.loadgen``), LLM serving under SLOs
(``measure.serving``) and the ideal queue's peak (``measure.queue``, one deterministic draw per step). What
differs between them is only how one rate is tried and judged, which each passes in as a callable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A short run at a rate: whether it met the bound, and what to keep of it.
Draw = tuple[bool, dict[str, Any]]

CONFIRM_ATTEMPTS = 3  # the bisected peak, then a step lower after each confirming run that missed
CONFIRM_STEP_DOWN = 0.9


@dataclass
class RateSearch:
    """A finished bisection: the highest rate that met the bound (None: none did), the final bracket and
    each step's draws."""

    best: float | None
    low: float
    high: float
    trials: list[dict[str, Any]] = field(default_factory=list)


def majority(draw: Callable[[int], Draw]) -> tuple[bool, list[dict[str, Any]]]:
    """Two draws, and a third when they disagree: the step's verdict is the majority.

    A short run's tail rests on a few dozen samples, nearly its maximum, and one unlucky draw used to end a
    search low (ResNet-50: 974 ms at 11.65 q/s under a 618 ms bound that the ideal queue meets up to 16.1).
    """
    draws = [draw(1), draw(2)]
    if draws[0][0] != draws[1][0]:
        draws.append(draw(3))
    met = sum(ok for ok, _ in draws) * 2 > len(draws)
    return met, [record | {"meets_bound": ok} for ok, record in draws]


def single(draw: Callable[[int], Draw]) -> tuple[bool, list[dict[str, Any]]]:
    """One draw decides (a deterministic judge, such as a seeded simulation)."""
    ok, record = draw(1)
    return ok, [record | {"meets_bound": ok}]


def bisect_rate(
    judge: Callable[[float, int], tuple[bool, list[dict[str, Any]]]],
    low: float,
    high: float,
    *,
    steps: int,
    rel_tol: float = 0.0,
) -> RateSearch:
    """Halve [low, high] up to ``steps`` times (and until it is narrower than ``rel_tol`` of the starting
    width, when given); ``judge(rate, step)`` tries one rate and returns its verdict and draws."""
    search = RateSearch(None, low, high)
    width = high - low
    for step in range(1, steps + 1):
        if rel_tol and search.high - search.low <= rel_tol * width:
            break
        rate = (search.low + search.high) / 2
        met, draws = judge(rate, step)
        search.trials.append({"rate": rate, "meets_bound": met, "draws": draws})
        if met:
            search.best, search.low = rate, rate
        else:
            search.high = rate
    return search


def confirm_stepping_down(
    run: Callable[[float, int], Draw], rate: float, attempts: int = CONFIRM_ATTEMPTS
) -> tuple[float | None, list[dict[str, Any]]]:
    """Run ``rate`` for longer; after a miss, ``CONFIRM_STEP_DOWN`` of it, up to ``attempts`` runs.

    A rate found by short runs near the edge can pass on a lucky draw: the confirmed rate is the one a longer
    run held (None when none did). ``run(rate, attempt)`` returns the verdict and the record of one run.
    """
    tried = []
    for attempt in range(attempts):
        ok, record = run(rate, attempt)
        tried.append(record | {"rate": rate, "meets_bound": ok})
        if ok:
            return rate, tried
        rate *= CONFIRM_STEP_DOWN
    return None, tried
