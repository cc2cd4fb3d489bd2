"""The one rate search: bisection, the majority of short runs per step, the confirming step-down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from inferperf.measure.rate_search import bisect_rate, confirm_stepping_down, majority, single


def test_majority_draws_a_third_only_when_two_disagree() -> None:
    met, draws = majority(lambda k: (True, {"k": k}))
    assert met and [d["k"] for d in draws] == [1, 2]
    met, draws = majority(lambda k: (k != 2, {"k": k}))  # yes, no, then yes decides
    assert met and [d["meets_bound"] for d in draws] == [True, False, True]
    met, draws = majority(lambda k: (k == 1, {"k": k}))
    assert not met and len(draws) == 3


def _below(edge: float) -> Callable[[float, int], tuple[bool, list[dict[str, Any]]]]:
    """A deterministic judge: every rate up to ``edge`` meets the bound."""
    return lambda rate, _step: single(lambda _k: (rate <= edge, {}))


def test_bisection_brackets_the_edge_and_keeps_every_step() -> None:
    edge = 37.0
    search = bisect_rate(_below(edge), 0.0, 100.0, steps=8)
    assert search.best is not None and search.low == search.best <= edge <= search.high
    assert search.high - search.low == pytest.approx(100.0 / 2**8)
    assert [t["meets_bound"] for t in search.trials][:3] == [False, True, False]  # 50, 25, 37.5
    none = bisect_rate(_below(-1.0), 0.0, 10.0, steps=3)
    assert none.best is None and none.high == pytest.approx(1.25)


def test_bisection_stops_at_the_relative_tolerance() -> None:
    search = bisect_rate(_below(3.0), 0.0, 10.0, steps=40, rel_tol=0.01)
    assert len(search.trials) == 7  # 10 / 2**7 < 0.1 <= 10 / 2**6


def test_confirmation_steps_down_after_a_miss_and_gives_up_after_three() -> None:
    rate, tried = confirm_stepping_down(lambda r, _a: (r <= 85.0, {}), 100.0)
    assert rate == pytest.approx(81.0) and [t["meets_bound"] for t in tried] == [False, False, True]
    rate, tried = confirm_stepping_down(lambda r, _a: (False, {}), 100.0)
    assert rate is None and len(tried) == 3
