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
    """(value, minus, plus) of a statistic with a ``ci95``."""
    lo, hi = stat.get("ci95", [stat["value"], stat["value"]])
    return float(stat["value"]), float(stat["value"] - lo), float(hi - stat["value"])


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


def ci_line(x: Sequence[Any], vals: Sequence[tuple[float, float, float]], name: str, text: list[str]) -> Any:
    """A line of values with their 95% intervals as error bars."""
    return go_module().Scatter(
        x=list(x), y=[v for v, _, _ in vals], error_y=error_bars(vals), mode="lines+markers", name=name, text=text
    )
