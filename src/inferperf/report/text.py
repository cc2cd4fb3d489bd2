"""How every console and Markdown view writes a figure with its interval: one formatter, so an unbounded
end (None in a file, or infinite in memory: too few samples for a 95% bound there) reads the same everywhere
and never fails a view."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

Digits = int | str  # decimals, or a whole format spec (".3g")


def _spec(digits: Digits) -> str:
    return digits if isinstance(digits, str) else f".{digits}f"


def bound(value: float | None, digits: Digits = 2, *, upper: bool = True) -> str:
    """One end of an interval; an unbounded one reads ``inf`` (or ``-inf`` for a lower end)."""
    if value is None:
        return "inf" if upper else "-inf"
    return format(value, _spec(digits))  # an infinite end reads inf / -inf by its sign, NaN as nan


def interval(stat: Mapping[str, Any], digits: Digits = 2) -> str:
    """``[low, high]`` of a statistic's ``ci95``."""
    lo, hi = stat.get("ci95") or (None, None)
    return f"[{bound(lo, digits, upper=False)}, {bound(hi, digits)}]"


def ci(stat: Mapping[str, Any], digits: Digits = 2, *, prefix: str = "", suffix: str = "") -> str:
    """``value [low, high]``: ``prefix`` and ``suffix`` frame the value (``x1.52``, ``1.52x``)."""
    return f"{prefix}{format(stat['value'], _spec(digits))}{suffix} {interval(stat, digits)}"


def half_width_pct(stat: Mapping[str, Any]) -> float:
    """The larger side of the interval as a share of the value, in percent (inf: an end is unbounded)."""
    value = float(stat["value"])
    lo, hi = stat.get("ci95") or (None, None)
    if not value:
        return 0.0
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return math.inf
    return max(value - float(lo), float(hi) - value) / value * 100


def ratio(rec: Mapping[str, Any], digits: Digits = 3) -> str:
    """A ratio record (``ratio`` and its ``ci95``) as ``x1.234 [1.100, 1.300]``."""
    return ci({"value": rec["ratio"], "ci95": rec.get("ci95")}, digits, prefix="x")
