"""Commands that read a model or the machine: info, flops, accuracy, the zoo, doctor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict

from inferperf.config import RuntimeConfig
from inferperf.measure.compute import count_macs_any, runtime_versions
from inferperf.measure.target import created, header, resolve
from inferperf.model import ModelInfo, load_model_info, parse_shape_spec, resolve_shapes
from inferperf.model.flops import Counted
from inferperf.results.documents import AccuracyDocument, DoctorDocument
from inferperf.results.schema import save_json


def info(model: str | Path) -> ModelInfo:
    """Inspect a model file (or ``builtin``): format, inputs, outputs, size, hash."""
    return load_model_info(model)


class NotCounted(TypedDict):
    """No count: why (a runtime that cannot count this model, dims left open)."""

    available: bool
    reason: str


class Flops(Counted):
    """Parameters and MACs at the shapes they were counted at, and by what."""

    available: bool
    shapes: dict[str, list[int]]
    counted_by: str


def flops(model: str | Path, shape: str | None = None, batch: int = 1) -> Flops | NotCounted:
    """Parameters and MACs per inference at the given shape."""
    info_ = load_model_info(model)
    shapes = resolve_shapes(info_, parse_shape_spec(shape), batch)
    count, source = count_macs_any(info_, shapes)
    if count is None:
        return {"available": False, "reason": source}
    return {
        "available": True,
        "shapes": {k: list(v) for k, v in shapes.items()},
        "counted_by": source,
        **count.to_dict(),
    }


def accuracy(
    model: str | Path = "builtin",
    *,
    data: str | Path = "builtin",
    backend: str = "openvino",
    batch: int = 1,
    preprocess: Mapping[str, Any] | None = None,
    config: RuntimeConfig | None = None,
) -> AccuracyDocument:
    """Top-1 (and top-5 with more than five classes) over labelled data, as a result document."""
    from inferperf.inputs.dataset import load_dataset, model_preprocess, override
    from inferperf.optimize.accuracy import evaluate

    t = resolve(model, backend, config, "latency")
    plugin, info_, cfg = t.plugin, t.info, t.config
    spec = override(model_preprocess(info_), **(preprocess or {}))
    dataset = load_dataset(data, info_, spec)
    report = evaluate(plugin, info_, dataset, cfg, batch)
    return AccuracyDocument.from_dict(
        {
            **header("accuracy", plugin),
            "model": info_.to_dict(),
            "data": {
                "source": dataset.source,
                "count": len(dataset),
                "preprocess": spec.to_dict(),
                "classes": list(dataset.classes),
            },
            "backend": plugin.name,
            "config": cfg.to_dict(),
            "batch": batch,
            **report.to_dict(),
        }
    )


def zoo_list() -> list[dict[str, Any]]:
    """The zoo's entries, with the path of a cached export when one exists."""
    from inferperf.model import zoo

    rows = []
    for entry in zoo.ENTRIES.values():
        cached = sorted(zoo.cache_dir().glob(f"{entry.name}-*.onnx")) if zoo.cache_dir().exists() else []
        rows.append(
            {
                "name": entry.name,
                "description": entry.description,
                "inputs": [f"{i.name}[N,{','.join(map(str, i.shape))}] {i.dtype}" for i in entry.inputs],
                "reference_gmacs": entry.reference_gmacs,
                "cached": [str(c) for c in cached],
            }
        )
    return rows


def doctor(measure_peak: bool = True) -> DoctorDocument:
    """Installed runtimes, CPU facts, measured peaks and noise; caches the peak for bench."""
    from inferperf import diagnose as doc_mod
    from inferperf.measure.peak import PEAK_PROBE_VERSION, peak_cache_path

    doc = replace(doc_mod.doctor(measure_peak=measure_peak), created=created())
    if measure_peak and doc["peak"].get("fp32_peak_gflops"):
        save_json(
            {
                **doc["peak"],
                "probe": PEAK_PROBE_VERSION,
                "cpu_model": doc["environment"]["cpu"]["model"],
                "versions": runtime_versions(doc["environment"]),
                "created": doc["created"],
            },
            peak_cache_path(),
        )
    return doc
