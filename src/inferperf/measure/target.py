"""What every command resolves first, once: the model, the backend, the merged runtime config, the shapes.

Commands (``inferperf.commands``) and the measuring core below them share these, so a
resolution rule (which config wins, how a ``--shapes`` stream is recorded, what a result
header holds) is written once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from inferperf.backends import Backend, get_backend
from inferperf.config import MODES, RuntimeConfig, Scenario
from inferperf.errors import ConfigError
from inferperf.measure.environment import collect_environment
from inferperf.measure.runner import Progress
from inferperf.model import ModelInfo, load_model_info
from inferperf.results.schema import SCHEMA

# progress_factory(label) -> a progress callback for that run, or None
ProgressFactory = Callable[[str], Progress | None]


@dataclass(frozen=True)
class Target:
    """A resolved command target: the model's facts, the backend plug-in and the config to compile with."""

    info: ModelInfo
    plugin: Backend
    config: RuntimeConfig


def resolve(
    model: str | Path, backend: str, config: RuntimeConfig | None = None, scenario: Scenario | None = None
) -> Target:
    """The backend (fails fast when unknown or missing), the model, and the config with the backend named.

    With ``scenario`` the config is also completed with the backend's defaults for it (what it will compile).
    """
    plugin = get_backend(backend)
    info = load_model_info(model)
    cfg = (config or RuntimeConfig()).with_(backend=plugin.name)
    if scenario is not None:
        cfg = plugin.configure(cfg, scenario)
    return Target(info, plugin, cfg)


def modes(mode: str) -> tuple[Scenario, ...]:
    """The scenarios of a ``mode`` (latency, throughput, both)."""
    if mode not in MODES:
        raise ConfigError(f"invalid `mode` {mode!r}: expected one of {', '.join(MODES)}")
    return MODES[mode]  # type: ignore[return-value]


def created() -> str:
    """The time a document is made, UTC, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Header(TypedDict):
    """The envelope every result document starts with."""

    schema: str
    kind: str
    created: str
    environment: dict[str, Any]


def header(kind: str, plugin: Backend | None = None, environment: Mapping[str, Any] | None = None) -> Header:
    """Schema tag, kind, time and environment (with the backend's versions) of a result document."""
    env: dict[str, Any] = dict(environment) if environment is not None else dict(collect_environment())
    if plugin is not None:
        env["versions"].update(plugin.versions())
    return {"schema": SCHEMA, "kind": kind, "created": created(), "environment": env}


class StreamSpec(TypedDict):
    """The shape stream as a worker process redraws it (``ShapeSpec.to_dict``; the seed travels apart)."""

    text: str
    histogram: str | None
    data: str | None
    stream: int


@dataclass(frozen=True)
class ShapeSpec:
    """``shapes`` (the ``--shapes`` grammar, e.g. ``input_ids[1,16..512]``) and how its stream is drawn.

    ``histogram`` gives the sizes of a ranged dim, ``data`` a file to read them from (with the text
    ``data``); ``stream`` is the number of seeded inputs drawn (for the optimizations: the held-out
    inputs, also their speed check's stream).
    """

    text: str
    histogram: str | Path | None = None
    stream: int = 100
    seed: int = 0
    data: str | Path | None = None

    def to_dict(self) -> StreamSpec:
        """The spec a worker process redraws the same stream from."""
        return {
            "text": self.text,
            "histogram": str(self.histogram) if self.histogram else None,
            "data": str(self.data) if self.data else None,
            "stream": self.stream,
        }


def spec_of(shapes: ShapeSpec | str, **defaults: Any) -> ShapeSpec:
    """A ShapeSpec from a spec or a plain ``--shapes`` text (with ``defaults`` for the other fields)."""
    return shapes if isinstance(shapes, ShapeSpec) else ShapeSpec(shapes, **defaults)


def as_spec(shapes: ShapeSpec | str | None, **defaults: Any) -> ShapeSpec | None:
    """``spec_of``, or None without shapes."""
    return None if shapes is None else spec_of(shapes, **defaults)


class ShapesRecord(TypedDict):
    """The ``shapes`` record of a result document, the same keys in every command (docs/result-schema.md)."""

    spec: str
    source: str
    count: int
    seed: int
    samples_per_group: dict[str, int]
    groups: NotRequired[list[Any]]  # dynamic: each group's dims, ranges and histograms
    engine_dims: NotRequired[dict[str, list[Any]]]  # scenario: the dims its one engine keeps open


def shapes_record(
    spec: ShapeSpec, source: str, per_group: dict[str, int], groups: list[Any] | None = None
) -> ShapesRecord:
    """The ``shapes`` record of a result document (``groups``: the groups' own records, where kept)."""
    record: ShapesRecord = {
        "spec": spec.text,
        "source": source,
        "count": spec.stream,
        "seed": spec.seed,
        "samples_per_group": per_group,
    }
    if groups is not None:
        record["groups"] = groups
    return record


def plan_streams(infos: Sequence[ModelInfo], spec: ShapeSpec) -> tuple[list[Any], ShapesRecord]:
    """``shapes`` checked here, where errors are one line: the stream planned on each model (a spec that
    fits one model only fails now) and the record of the first model's stream for the result."""
    from inferperf.measure.dynamic_plan import plan_stream

    if spec.data is not None and spec.text.strip() != "data":
        raise ConfigError("with `shapes`, `data` is only a source of sizes: use `shapes` data")
    plans = [
        plan_stream(i, spec.text, stream=spec.stream, seed=spec.seed, histogram=spec.histogram, data=spec.data)
        for i in infos
    ]
    return plans, shapes_record(spec, plans[0].source, plans[0].per_group())
