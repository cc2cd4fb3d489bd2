"""Dynamic-shape strategies made concrete: which engines each compiles and which shapes every input of the
stream runs at (``dynamic``, ``bounded``, ``buckets``, ``largest``; see ``measure/dynamic``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferperf.backends.base import DimBound, InputSet
from inferperf.errors import ConfigError
from inferperf.inputs.distribution import (
    ResolvedGroup,
    StreamItem,
    bin_order,
    draw_stream,
    resolve_shapes_option,
)
from inferperf.inputs.providers import input_bytes, refuse_over_memory, synthetic_inputs
from inferperf.model.info import ModelInfo

STRATEGIES = ("dynamic", "buckets", "largest", "bounded")
HANG_S = 600.0  # one inference taking longer than this is treated as hung
Progress = Callable[[float, str], None]


@dataclass
class Plan:
    """A strategy made concrete: the engines to compile and, per input, the engine and the shapes it runs at."""

    name: str
    engines: list[dict[str, tuple[DimBound, ...]]]
    route: list[int]
    feed_shapes: list[dict[str, tuple[int, ...]]]

    def padded(self, items: Sequence[StreamItem]) -> bool:
        """Whether any input is padded."""
        return any(f != it.shapes for f, it in zip(self.feed_shapes, items, strict=True))


def _dim_sets(items: Sequence[StreamItem], attr: str) -> dict[str, list[set[int]]]:
    sets: dict[str, list[set[int]]] = {}
    for item in items:
        for name, shape in getattr(item, attr).items():
            per = sets.setdefault(name, [set() for _ in shape])
            for i, d in enumerate(shape):
                per[i].add(d)
    return sets


def _open_ranges(
    items: Sequence[StreamItem], groups: Sequence[ResolvedGroup], bounded: bool
) -> dict[str, tuple[DimBound, ...]]:
    """Every dim that varies over the stream is opened: to (low, high) of the groups when bounded."""
    sets = _dim_sets(items, "shapes")
    spans = _group_spans(groups)
    out: dict[str, tuple[DimBound, ...]] = {}
    for name, per in sets.items():
        dims: list[DimBound] = []
        for i, values in enumerate(per):
            if len(values) == 1 and (name, i) not in spans:
                dims.append(next(iter(values)))
            elif bounded:
                low, high = spans.get((name, i), (min(values), max(values)))
                dims.append((min(low, *values), max(high, *values)))
            else:
                dims.append((1, None))
        out[name] = tuple(dims)
    return out


def _group_spans(groups: Sequence[ResolvedGroup]) -> dict[tuple[str, int], tuple[int, int]]:
    """(low, high) of every dim that a group leaves to a variable or that differs between groups."""
    values: dict[tuple[str, int], list[int]] = {}
    for g in groups:
        for name, dims in g.dims.items():
            for i, d in enumerate(dims):
                if isinstance(d, str):
                    rng = g.variables[d].range
                    values.setdefault((name, i), []).extend([rng.low, rng.high])
                else:
                    values.setdefault((name, i), []).append(d)
    return {k: (min(v), max(v)) for k, v in values.items() if min(v) != max(v)}


def plan_strategy(name: str, items: Sequence[StreamItem], groups: Sequence[ResolvedGroup]) -> Plan:
    """The engines and routing of one strategy over the stream."""
    if name in ("dynamic", "bounded"):
        ranges = _open_ranges(items, groups, bounded=name == "bounded")
        return Plan(name, [ranges], [0] * len(items), [it.shapes for it in items])
    if name == "buckets":
        keys: dict[tuple[tuple[str, tuple[int, ...]], ...], int] = {}
        route = []
        for it in items:
            key = tuple(sorted(it.bucket.items()))
            route.append(keys.setdefault(key, len(keys)))
        engines: list[dict[str, tuple[DimBound, ...]]] = [dict(k) for k in keys]
        return Plan(name, engines, route, [it.bucket for it in items])
    if name == "largest":
        spans = _group_spans(groups)
        top = {n: tuple(max(v) for v in per) for n, per in _dim_sets(items, "bucket").items()}
        # The largest shape the distribution allows, not only the largest one drawn.
        largest = {n: tuple(spans.get((n, i), (d, d))[1] for i, d in enumerate(s)) for n, s in top.items()}
        return Plan(name, [dict(largest)], [0] * len(items), [largest for _ in items])
    raise ConfigError(f"unknown strategy {name!r}")


@dataclass(frozen=True)
class StreamPlan:
    """A ``--shapes`` stream for commands that run it on one engine with the varying dims open."""

    items: list[StreamItem]
    source: str
    ranges: dict[str, tuple[DimBound, ...]]  # the one engine's dims
    largest: dict[str, tuple[int, ...]]  # the largest input's shapes, for the record

    def per_group(self) -> dict[str, int]:
        """Inputs per reporting group, in size order."""
        return {b: sum(1 for it in self.items if it.bin == b) for b in bin_order(self.items)}


def plan_stream(
    info: ModelInfo,
    text: str,
    *,
    stream: int,
    seed: int,
    histogram: str | Path | None = None,
    data: str | Path | None = None,
    batch: int = 1,
) -> StreamPlan:
    """Resolve ``--shapes`` against the model, draw the seeded stream, open the dims it varies."""
    groups, source = resolve_shapes_option(info, text, batch=batch, histogram=histogram, data=data)
    items = draw_stream(groups, stream, seed)
    largest = max(items, key=lambda it: sum(math.prod(s) for s in it.shapes.values()))
    return StreamPlan(items, source, plan_strategy("dynamic", items, groups).engines[0], dict(largest.shapes))


def plan_from_spec(info: ModelInfo, spec: dict[str, Any], seed: int) -> StreamPlan:
    """The stream a worker redraws from a job's spec: ``text`` (the --shapes grammar), ``histogram``,
    ``data`` (a size source), ``stream`` (count)."""
    return plan_stream(
        info,
        spec["text"],
        stream=int(spec.get("stream", 100)),
        seed=seed,
        histogram=spec.get("histogram"),
        data=spec.get("data"),
    )


def group_shapes(
    info: ModelInfo, spec: dict[str, Any], seed: int
) -> tuple[list[tuple[str, dict[str, tuple[int, ...]]]], dict[str, tuple[DimBound, ...]]]:
    """One shape per reporting group of a ``--shapes`` stream (its first input there), in size order,
    and the dims an engine must keep open for them all."""
    plan = plan_from_spec(info, spec, seed)
    first = {b: next(dict(it.shapes) for it in plan.items if it.bin == b) for b in bin_order(plan.items)}
    return list(first.items()), plan.ranges


def padding_waste(items: Sequence[StreamItem], plan: Plan) -> float:
    """Share of the elements fed that are padding."""
    real = sum(math.prod(s) for it in items for s in it.shapes.values())
    fed = sum(math.prod(s) for f in plan.feed_shapes for s in f.values())
    return 1.0 - real / fed if fed else 0.0


def stream_inputs(
    info: ModelInfo, items: Sequence[StreamItem], seed: int, int_range: tuple[int, int] | None
) -> list[InputSet]:
    """One seeded synthetic input set per stream item, at the item's own shapes."""
    need = sum(input_bytes(info, it.shapes) for it in items) + max(input_bytes(info, it.shapes) for it in items)
    refuse_over_memory(need, f"the stream's {len(items)} input sets")
    return [
        synthetic_inputs(info, it.shapes, sets=1, seed=seed * 1_000_003 + it.index, int_range=int_range)[0]
        for it in items
    ]


def _pad(inputs: InputSet, shapes: dict[str, tuple[int, ...]]) -> InputSet:
    out: InputSet = {}
    for name, arr in inputs.items():
        want = shapes[name]
        if arr.shape == want:
            out[name] = arr
        else:
            # Zeros: the pad token id and a mask of 0, so the model attends to the real tokens only.
            out[name] = np.pad(arr, [(0, w - h) for h, w in zip(arr.shape, want, strict=True)])
    return out
