"""Plot helpers shared by the HTML views: plotly imported lazily, error bars from interval dicts, one layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

Figure = Any  # plotly.graph_objects.Figure (plotly is imported lazily)


def go_module() -> Any:
    """plotly.graph_objects, imported on first use (plotly is heavy)."""
    import plotly.graph_objects as go

    return go


def err_triple(stat: Mapping[str, Any]) -> tuple[float, float, float]:
    """(value, minus, plus) of a statistic with a ``ci95``; an unbounded end (null: too few runs for a 95%
    bound) draws no bar on that side."""
    value = float(stat["value"])
    lo, hi = stat.get("ci95") or (value, value)
    return value, 0.0 if lo is None else value - float(lo), 0.0 if hi is None else float(hi) - value


class ErrorBars(TypedDict):
    """plotly's ``error_y`` (or ``error_x``) for asymmetric bars."""

    type: str
    symmetric: bool
    array: list[float]
    arrayminus: list[float]


def error_bars(stats: Sequence[tuple[float, float, float]]) -> ErrorBars:
    """Asymmetric error bars from (value, minus, plus) triples."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [p for _, _, p in stats],
        "arrayminus": [m for _, m, _ in stats],
    }


def layout(fig: Figure, title: str, x: str, y: str) -> Figure:
    """The one look every figure shares."""
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, template="plotly_white", height=420, margin={"t": 60, "b": 50}
    )
    return fig


def figure(traces: Sequence[Any], title: str, x: str, y: str, **extra: Any) -> Figure | None:
    """The figure of ``traces`` in the shared look (``extra``: plotly layout keywords, e.g. ``xaxis_type``);
    None when there is nothing to draw, so a report leaves the figure out rather than show an empty one."""
    if not traces:
        return None
    fig = layout(go_module().Figure(data=list(traces)), title, x, y)
    fig.update_layout(**extra)
    return fig


def ci_bar(
    labels: Sequence[Any], vals: Sequence[tuple[float, float, float]], name: str | None = None, **extra: Any
) -> Any:
    """Bars of values with their 95% intervals (``orientation="h"`` among ``extra``: horizontal bars)."""
    values, bars = [v for v, _, _ in vals], error_bars(vals)
    if extra.get("orientation") == "h":
        return go_module().Bar(y=list(labels), x=values, error_x=bars, name=name, **extra)
    return go_module().Bar(x=list(labels), y=values, error_y=bars, name=name, **extra)


def ci_line(x: Sequence[Any], vals: Sequence[tuple[float, float, float]], name: str, text: list[str]) -> Any:
    """A line of values with their 95% intervals as error bars."""
    return go_module().Scatter(
        x=list(x), y=[v for v, _, _ in vals], error_y=error_bars(vals), mode="lines+markers", name=name, text=text
    )
