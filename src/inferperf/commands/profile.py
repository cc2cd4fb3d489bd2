"""Per-layer profiles: one model, two side by side, or one per fixed shape group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferperf.backends import Backend
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.errors import ConfigError
from inferperf.inputs import build_input_sets
from inferperf.measure.runner import run_scenario
from inferperf.measure.target import ShapeSpec, header, resolve, spec_of
from inferperf.model import ModelInfo, load_model_info, parse_shape_spec, resolve_shapes
from inferperf.results.documents import ProfileCompareDocument, ProfileDocument, ProfileShapesDocument

if TYPE_CHECKING:
    from inferperf.measure.profile import ReferenceGap, Summary


def profile(
    model: str | Path = "builtin",
    *,
    compare_with: str | Path | None = None,
    backend: str = "openvino",
    config: RuntimeConfig | None = None,
    shape: str | None = None,
    seconds: float = 5.0,
    warmup_s: float = 1.0,
    reference_s: float = 3.0,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> ProfileDocument | ProfileCompareDocument:
    """Per-layer profile (times, op types, precisions, findings); with ``compare_with``, two models side by side.

    Layer counters come from the backend (OpenVINO PERF_COUNT, ONNX Runtime's profiler) over many
    inferences; two models are profiled interleaved. ``reference_s`` > 0 also measures a latency-mode
    median with the counters off, to show what the layer sum leaves out and what profiling costs.
    """
    from inferperf.measure.profile import ProfileLimits, collect, compare_profiles, summarize_run

    t = resolve(model, backend, config, "latency")
    plugin, cfg = t.plugin, t.config
    infos = [t.info] + ([load_model_info(compare_with)] if compare_with is not None else [])
    shapes = [resolve_shapes(i, parse_shape_spec(shape), cfg.batch) for i in infos]
    if any(s != shapes[0] for s in shapes[1:]):
        raise ConfigError(f"models to compare need the same inputs: {shapes[0]} vs {shapes[1]}")
    input_sets = build_input_sets(infos[0], shapes[0], seed=seed)
    limits = ProfileLimits(seconds=seconds, warmup_s=warmup_s)
    budget = {"seconds": seconds, "warmup_s": warmup_s, "reference_s": reference_s}
    profilers = []
    try:
        for i in infos:
            if progress is not None:
                progress(f"compiling {i.path.name} with layer counters")
            profilers.append(plugin.profile_layers(i, shapes[0], cfg))
        runs = collect(profilers, input_sets, limits, progress)
    finally:
        for p in profilers:
            p.close()
    docs = [
        _profile_doc(plugin, i, shapes[0], cfg, summarize_run(r), input_sets, reference_s, budget, progress)
        for i, r in zip(infos, runs, strict=True)
    ]
    if compare_with is None:
        return docs[0]
    return ProfileCompareDocument.from_dict(
        {
            **header("profile-compare", plugin),
            "backend": plugin.name,
            "a": docs[0].to_dict(),
            "b": docs[1].to_dict(),
            "comparison": compare_profiles(docs[0]["profile"], docs[1]["profile"]),
        }
    )


def profile_shapes(
    model: str | Path,
    shapes: ShapeSpec | str,
    *,
    backend: str = "openvino",
    config: RuntimeConfig | None = None,
    seconds: float = 5.0,
    warmup_s: float = 1.0,
    seed: int = 0,
    int_range: tuple[int, int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ProfileShapesDocument:
    """Per-layer profile of each fixed shape group (``--shapes`` grammar), and how each op type's time
    grows with the input across the groups (which layers scale worse than the input)."""
    from inferperf.inputs.distribution import resolve_shapes_option
    from inferperf.measure.profile import ProfileLimits, collect, shape_scaling, summarize_run

    t = resolve(model, backend, config, "latency")
    plugin, cfg, info_ = t.plugin, t.config, t.info
    spec = spec_of(shapes)
    groups, source = resolve_shapes_option(info_, spec.text, batch=cfg.batch, histogram=spec.histogram, data=spec.data)
    ranged = [g.label for g in groups if g.variables]
    if ranged:
        raise ConfigError(
            f"profile --shapes takes fixed groups, like 'input_ids[1,32];input_ids[1,512]': {ranged[0]} is a range"
        )
    limits = ProfileLimits(seconds=seconds, warmup_s=warmup_s)
    out: list[dict[str, Any]] = []
    for g in groups:
        shape = g.shape_for({})
        if progress is not None:
            progress(f"profiling {g.label}")
        sets = build_input_sets(info_, shape, seed=seed, int_range=int_range)
        profiler = plugin.profile_layers(info_, shape, cfg)
        try:
            summary = summarize_run(collect([profiler], sets, limits, progress)[0])
        finally:
            profiler.close()
        out.append(
            {
                "group": g.label,
                "shapes": {k: list(v) for k, v in shape.items()},
                "elements": int(sum(int(np.prod(v)) for v in shape.values())),
                "iterations": summary["iterations"],
                "totals": summary["totals"],
                "by_op_type": summary["by_op_type"],
                "layers": summary["layers"][:20],
            }
        )
    out.sort(key=lambda d: d["elements"])
    return ProfileShapesDocument.from_dict(
        {
            **header("profile-shapes", plugin),
            "model": info_.to_dict(),
            "backend": plugin.name,
            "config": cfg.to_dict(),
            "shapes": {"spec": spec.text, "source": source},
            "limits": {"seconds": seconds, "warmup_s": warmup_s},
            "groups": out,
            "scaling": shape_scaling(out),
        }
    )


def _profile_doc(
    plugin: Backend,
    info_: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    cfg: RuntimeConfig,
    summary: Summary,
    input_sets: Sequence[dict[str, Any]],
    reference_s: float,
    budget: dict[str, float],
    progress: Callable[[str], None] | None,
) -> ProfileDocument:
    """One model's profile document: summary, counters-off reference latency, findings."""
    from inferperf.measure.profile import reference_gap
    from inferperf.optimize.findings import ModelFacts, diagnose

    reference: ReferenceGap | None = None
    if reference_s > 0:
        if progress is not None:
            progress(f"latency of {info_.path.name} with counters off")
        run = run_scenario(plugin, info_, shapes, input_sets, cfg, "latency", RunLimits(time_s=reference_s))
        reference = reference_gap(summary, float(run.latency_ms["median"]["value"]))
        if reference is not None:
            reference["latency_median_ci95"] = run.latency_ms["median"]["ci95"]
            reference["count"] = run.count
    facts = ModelFacts(
        dynamic_inputs={s.name: list(s.shape) for s in info_.inputs if s.dynamic_dims},
        profiled_shapes={k: list(v) for k, v in shapes.items()},
    )
    return ProfileDocument.from_dict(
        {
            **header("profile", plugin),
            "model": {**info_.to_dict(), "shapes": {k: list(v) for k, v in shapes.items()}},
            "backend": plugin.name,
            "config": cfg.to_dict(),
            "limits": budget,
            "profile": summary,
            "reference": reference,
            "findings": [f.to_dict() for f in diagnose(summary, facts)],
        }
    )
