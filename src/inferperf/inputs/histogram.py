"""Size histograms for dynamic-shape streams (``--shape-histogram``): observed sizes and their weights, from a
CSV or JSON file or from a dataset's sizes."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferperf.errors import InputSpecError


@dataclass(frozen=True)
class Histogram:
    """Observed sizes and their weights (normalised to sum 1)."""

    values: tuple[int, ...]
    weights: tuple[float, ...]
    source: str


def _histogram_rows(text: str, source: str) -> list[tuple[float, float]]:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data: Any = json.loads(stripped)
        except ValueError as exc:
            raise InputSpecError(f"histogram file {source} is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            return [(_number(k, source), _number(v, source)) for k, v in data.items()]
        if isinstance(data, list):
            return [
                (_number(x[0], source), _number(x[1], source))
                if isinstance(x, list) and len(x) == 2
                else (_number(x, source), 1.0)
                for x in data
            ]
        raise InputSpecError(f"histogram file {source}: expected a JSON object or list")
    rows = []
    for n, raw in enumerate(stripped.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c for c in re.split(r"[,\s;]+", line) if c]
        if n == 1 and not _is_number(cells[0]):
            continue  # a header row
        if len(cells) not in (1, 2):
            raise InputSpecError(f"histogram file {source} line {n}: expected 'size' or 'size,count', got {line!r}")
        rows.append((_number(cells[0], source, n), _number(cells[1], source, n) if len(cells) == 2 else 1.0))
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(value: Any, source: str, line: int | None = None) -> float:
    where = f" line {line}" if line else ""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputSpecError(f"histogram file {source}{where}: {value!r} is not a number") from None
    if not math.isfinite(out):
        raise InputSpecError(f"histogram file {source}{where}: {value!r} is not finite")
    return out


def histogram_from_values(values: list[int], source: str) -> Histogram:
    """An empirical histogram of observed sizes."""
    if not values:
        raise InputSpecError(f"{source}: no sizes to build a histogram from")
    sizes, counts = np.unique(np.asarray(values, dtype=np.int64), return_counts=True)
    total = float(counts.sum())
    return Histogram(tuple(int(s) for s in sizes), tuple(float(c) / total for c in counts), source)


def load_histogram(path: str | Path) -> Histogram:
    """Sizes and counts from CSV (``size,count`` or one size per line) or JSON (``{"size": count}``, a list)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputSpecError(f"histogram file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputSpecError(f"cannot read histogram file {p}: {exc}") from None
    rows = _histogram_rows(text, str(p))
    if not rows:
        raise InputSpecError(f"histogram file {p} holds no sizes")
    merged: dict[int, float] = {}
    for size, count in rows:
        if size != int(size) or size <= 0:
            raise InputSpecError(f"histogram file {p}: size {size:g} is not a positive integer")
        if count < 0:
            raise InputSpecError(f"histogram file {p}: size {int(size)} has a negative count {count:g}")
        merged[int(size)] = merged.get(int(size), 0.0) + count
    total = sum(merged.values())
    if total <= 0:
        raise InputSpecError(f"histogram file {p}: all counts are zero")
    keys = sorted(merged)
    return Histogram(tuple(keys), tuple(merged[k] / total for k in keys), str(p))


# -- binding groups to the model ----------------------------------------------------------------
