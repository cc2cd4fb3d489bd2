"""Workload commands: end to end on images, dynamic shapes, and MLPerf LoadGen scenarios."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from inferperf.config import RuntimeConfig, Scenario
from inferperf.errors import ConfigError
from inferperf.inputs import build_input_sets
from inferperf.inputs.dataset import dataset_sets
from inferperf.measure.runner import Progress
from inferperf.measure.target import (
    ShapeSpec,
    ShapesRecord,
    Target,
    header,
    plan_streams,
    resolve,
    shapes_record,
    spec_of,
)
from inferperf.model import ModelInfo, fed_batch, load_model_info, parse_shape_spec, resolve_shapes
from inferperf.results.documents import DynamicDocument, E2EDocument, ScenarioDocument
from inferperf.results.schema import save_json


def e2e(
    model: str | Path = "builtin",
    *,
    images: str | Path | None = None,
    data: str | Path | None = None,
    backend: str = "openvino",
    decoder: str = "pillow",
    preprocess: Mapping[str, Any] | None = None,
    config: RuntimeConfig | None = None,
    options: Any = None,
    fuse: bool = True,
    save_fused: str | Path | None = None,
    postprocess: Any = None,
    progress: Callable[[str], None] | None = None,
) -> E2EDocument:
    """End to end on real images: stages apart, sequential vs pipelined, host vs fused pre-processing.

    ``options`` is a ``measure.e2e.E2EOptions``; ``postprocess`` a ``measure.e2e_inputs.Postprocessor``
    (default: softmax + top-k for a [batch, classes] output).
    """
    import tempfile

    from inferperf.measure.e2e import E2EOptions, run_e2e
    from inferperf.measure.e2e_inputs import get_decoder, load_items
    from inferperf.optimize.preprocess import FusionPlan, fuse_model

    t = resolve(model, backend, config)
    plugin, info_ = t.plugin, t.info
    target = _image_target(info_, preprocess)
    spec, size, name, shape = target.spec, target.size, target.input_name, target.shape
    if images is None and data is None and str(model) == "builtin":
        data = "builtin"
    items, source = load_items(images, data)
    dec = get_decoder(decoder)
    with tempfile.TemporaryDirectory(prefix="inferperf-e2e-") as tmp:
        fused_info, fusion = None, None
        if fuse or save_fused:
            plan = FusionPlan(spec, size, dec.native_color, dec.resize_kind)
            fusion = fuse_model(plugin, info_, plan, Path(save_fused) if save_fused else None, Path(tmp))
            fused_info = load_model_info(fusion["path"])
        opts = options or E2EOptions()
        fields = run_e2e(plugin, target, items, dec, t.config, opts, fused_info, postprocess, progress)
    if fusion is not None and "fused" in fields:
        fields["fused"] = {"model": {**fusion, "saved": save_fused is not None}, **fields["fused"]}
    return E2EDocument.from_dict(
        {
            **header("e2e", plugin),
            "model": {**info_.to_dict(), "input": name, "shape": list(shape)},
            "backend": plugin.name,
            "decoder": dec.name,
            "inputs": {"source": source, "count": len(items)},
            "preprocess": {**spec.to_dict(), "size": list(size), "resize": f"{dec.name} bilinear"},
            **fields,
        }
    )


def _image_target(info_: ModelInfo, preprocess: Mapping[str, Any] | None) -> Any:
    """The model's image input, at batch 1, with the pre-processing it expects (``preprocess`` overrides)."""
    from inferperf.inputs.dataset import _image_input, model_preprocess, override
    from inferperf.measure.e2e import E2ETarget

    spec = override(model_preprocess(info_), **(preprocess or {}))
    name, size = _image_input(info_, spec)
    channels = 1 if spec.color == "GRAY" else 3
    shape = (1, channels, *size) if spec.layout == "NCHW" else (1, *size, channels)
    return E2ETarget(info_, name, shape, info_.input(name).dtype, spec, size)


def dynamic(
    model: str | Path,
    shapes: ShapeSpec | str,
    *,
    backend: str = "openvino",
    buckets: str | None = None,
    options: Any = None,
    config: RuntimeConfig | None = None,
    int_range: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> DynamicDocument:
    """A dynamic-shape workload: per-group and overall results of each compile strategy on one seeded stream.

    ``options`` is a measure.dynamic.DynamicOptions (strategies, rounds, requests; its stream length
    and seed apply when ``shapes`` is a text, a ShapeSpec's own win).
    """
    from inferperf.inputs.distribution import draw_stream, parse_buckets, resolve_shapes_option
    from inferperf.measure.dynamic import DynamicOptions, run_dynamic

    opts: DynamicOptions = options or DynamicOptions()
    spec = spec_of(shapes, stream=opts.stream, seed=opts.seed)
    opts = replace(opts, stream=spec.stream, seed=spec.seed)
    scenario: Scenario = "latency" if opts.requests == 1 else "throughput"
    base = (config or RuntimeConfig()).with_(**({} if opts.requests == 1 else {"requests": opts.requests}))
    t = resolve(model, backend, base, scenario)
    plugin, info_, config = t.plugin, t.info, t.config
    groups, source = resolve_shapes_option(
        info_, spec.text, batch=config.batch, histogram=spec.histogram, data=spec.data
    )
    edges = parse_buckets(buckets)
    items = draw_stream(groups, opts.stream, opts.seed, edges)
    skipped = []
    if not plugin.bounded_dims and "bounded" in opts.strategies:
        # Interval dimensions are a runtime feature: said in the result, not silently dropped.
        opts = replace(opts, strategies=tuple(s for s in opts.strategies if s != "bounded"))
        skipped.append({"name": "bounded", "reason": f"{plugin.name} has no interval dimensions"})
    body = run_dynamic(plugin, info_, items, groups, config, opts, int_range, progress)
    record = shapes_record(spec, source, _per_group(items), groups=[_group_doc(g) for g in groups])
    return DynamicDocument.from_dict(
        {
            **header("dynamic", plugin),
            "model": info_.to_dict(),
            "backend": plugin.name,
            "config": config.to_dict(),
            "shapes": record,
            "stream": {
                "count": len(items),
                "seed": opts.seed,
                "buckets": edges,
                "items": [{"group": it.bin, "shapes": {n: list(s) for n, s in it.shapes.items()}} for it in items],
            },
            "options": {
                "strategies": list(opts.strategies),
                "rounds": opts.rounds,
                "requests": opts.requests,
                "interleave": "per input" if opts.requests == 1 else "per pass",
            },
            "skipped": skipped,
            **body,
        }
    )


def _per_group(items: list[Any]) -> dict[str, int]:
    from inferperf.inputs.distribution import bin_order

    return {b: sum(1 for it in items if it.bin == b) for b in bin_order(items)}


class GroupRecord(TypedDict):
    """One shape group of a distribution: its weight, its fixed dims, its ranged dims and their histograms."""

    label: str
    weight: float
    dims: dict[str, list[Any]]
    ranges: dict[str, list[int]]
    histogram: dict[str, str]


def _group_doc(g: Any) -> GroupRecord:
    """One shape group of a distribution, as the dynamic document records it."""
    return {
        "label": g.label,
        "weight": g.weight,
        "dims": {n: list(d) for n, d in g.dims.items()},
        "ranges": {k: [v.range.low, v.range.high] for k, v in g.variables.items()},
        "histogram": {k: v.histogram.source for k, v in g.variables.items() if v.histogram},
    }


def scenario(
    model: str | Path = "builtin",
    *,
    backend: str = "openvino",
    options: Any = None,
    config: RuntimeConfig | None = None,
    shape: str | None = None,
    inputs: str | Path | None = None,
    data: str | Path | None = None,
    seed: int = 0,
    out: str | Path = "inferperf-scenario",
    status: Callable[[str], None] | None = None,
    shapes: ShapeSpec | str | None = None,
    int_range: tuple[int, int] | None = None,
) -> ScenarioDocument:
    """An MLPerf LoadGen scenario (single-stream, multi-stream, server, offline) as a result document.

    ``options`` is a ``measure.loadgen.ScenarioOptions``. LoadGen's log files are kept under ``out``,
    where the result document is written too (``scenario.json``). ``shapes`` (the ``--shapes``
    grammar; 100 samples when a text, with ``data`` as its size source) makes the QSL a seeded stream
    over those shapes, run on one engine with the varying dims open; latency is then also reported
    per shape group.
    """
    from inferperf.measure.loadgen import ScenarioOptions, run_scenario_test
    from inferperf.measure.loadgen_sut import import_loadgen

    opts: ScenarioOptions = options or ScenarioOptions()
    import_loadgen()  # fail fast, with the install hint, before compiling anything
    t = resolve(model, backend, config)
    plugin, info_, config = t.plugin, t.info, t.config
    if config.batch != 1:
        raise ConfigError("a LoadGen sample is one inference of batch 1: `batch` is not supported here")
    stream_doc: ShapesRecord | None = None
    if shapes is not None:
        if shape is not None or inputs is not None:
            raise ConfigError("`shapes` sets the shapes itself: leave out `shape` and `inputs`")
        spec = spec_of(shapes, seed=seed, data=data)
        target, source, stream_doc = _scenario_stream(t, opts.accuracy, spec, int_range)
        sets = list(target.input_sets)
    else:
        sets, labels, source = _scenario_inputs(info_, opts.accuracy, shape, inputs, data, (seed, int_range))
        target = _fixed_target(t, sets, labels)
    out_dir = Path(out)
    body = run_scenario_test(target, opts, out_dir, status)
    doc = ScenarioDocument.from_dict(
        {
            **header("scenario", plugin),
            "model": {**info_.to_dict(), "shapes": {k: list(v) for k, v in target.shapes.items()}},
            "backend": plugin.name,
            "scenario": opts.scenario,
            "options": opts.to_dict(),
            "inputs": {"source": source, "count": len(sets)},
            **({"shapes": stream_doc} if stream_doc else {}),
            "out_dir": str(out_dir),
            **body,
        }
    )
    save_json(doc, out_dir / "scenario.json")
    return doc


def _scenario_stream(
    t: Target, accuracy: bool, spec: ShapeSpec, int_range: tuple[int, int] | None
) -> tuple[Any, str, ShapesRecord]:
    """The QSL as a seeded shape stream: samples, the open dims of its one engine, each sample's group."""
    from inferperf.inputs.distribution import bin_order
    from inferperf.measure.dynamic_plan import stream_inputs
    from inferperf.measure.loadgen import ScenarioTarget
    from inferperf.measure.loadgen_sut import SampleGroups

    if accuracy:
        raise ConfigError("`shapes` draws synthetic inputs: LoadGen accuracy mode needs the labelled `data` as is")
    plans, record = plan_streams([t.info], spec)
    plan = plans[0]
    sets = stream_inputs(t.info, plan.items, spec.seed, int_range)
    groups = SampleGroups([it.bin for it in plan.items], bin_order(plan.items))
    target = ScenarioTarget(t.plugin, t.info, plan.largest, sets, t.config, ranges=plan.ranges, groups=groups)
    record["engine_dims"] = {n: [list(d) if isinstance(d, tuple) else d for d in v] for n, v in plan.ranges.items()}
    return target, f"synthetic shape stream (seed {spec.seed})", record


def _fixed_target(t: Target, sets: list[dict[str, Any]], labels: Any) -> Any:
    """The QSL of fixed-shape samples; each must be one item, since LoadGen counts samples."""
    from inferperf.measure.loadgen import ScenarioTarget

    fed = {k: tuple(v.shape) for k, v in sets[0].items()}
    if fed_batch(t.info, fed) != 1:
        # A sample of batch 8 would be reported as one.
        raise ConfigError(
            f"a LoadGen sample is one inference of batch 1, the inputs hold batch {fed_batch(t.info, fed)} "
            f"({', '.join(f'{k}{list(v)}' for k, v in fed.items())}): give dim 0 = 1"
        )
    return ScenarioTarget(t.plugin, t.info, fed, sets, t.config, labels)


def _scenario_inputs(
    info_: ModelInfo,
    accuracy: bool,
    shape: str | None,
    inputs: str | Path | None,
    data: str | Path | None,
    seed_range: tuple[int, tuple[int, int] | None],
) -> tuple[list[dict[str, Any]], np.ndarray | None, str]:
    """The QSL's samples (batch 1 each), their labels in accuracy mode, and where they came from."""
    from inferperf.inputs.dataset import load_dataset, model_preprocess

    if accuracy:
        dataset = load_dataset(data or "builtin", info_, model_preprocess(info_))
        return dataset.batches(1), dataset.labels, dataset.source
    if data is not None:
        return dataset_sets(info_, data, 1), None, str(data)
    seed, int_range = seed_range
    shapes = resolve_shapes(info_, parse_shape_spec(shape), 1)
    sets = build_input_sets(info_, shapes, npz=inputs, seed=seed, int_range=int_range)
    return sets, None, str(inputs) if inputs else f"synthetic (seed {seed})"
