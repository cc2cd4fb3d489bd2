"""INT8 quantization with an accuracy guard and a side-by-side speed check.

The backend writes candidate INT8 models; this module decides. With labels,
the guard is the absolute top-1 drop against FP32 on held-out samples that
were not used for calibration; without labels, output fidelity (cosine, max
abs difference, top-1 agreement) against FP32. Speed is measured FP32 and
INT8 interleaved (A B A B ...), as a paired ratio with an interval. A
candidate over ``max_drop`` is rejected and never offered as the winner.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inferperf.backends.base import Backend, InputSet
from inferperf.config import QuantizeOptions, RunLimits, RuntimeConfig
from inferperf.errors import ConfigError, InputSpecError
from inferperf.inputs.dataset import Dataset
from inferperf.measure.runner import run_scenario
from inferperf.model.info import ModelInfo, load_model_info
from inferperf.stats import paired_ratio_ci


@dataclass(frozen=True)
class Split:
    """Calibration input sets, and the held-out data the guard scores on."""

    calibration: list[InputSet]
    held_out: Dataset
    labelled: bool
    calibration_labels: list[int] | None = None


def split_data(data: Dataset, calibration_size: int) -> Split:
    """First part calibrates, the rest is held out; with labels, the two never overlap."""
    n = len(data)
    if n < 4:
        raise InputSpecError(f"{data.source}: {n} samples are too few to calibrate and check accuracy")
    k = min(calibration_size, n // 2)  # 0 when nothing needs calibrating: every sample is held out
    calib = [{name: arr[i : i + 1] for name, arr in data.samples.items()} for i in range(k)]
    rest = {name: arr[k:] for name, arr in data.samples.items()}
    labels = data.labels[k:] if data.labels is not None else None
    calib_labels = [int(v) for v in data.labels[:k]] if data.labels is not None else None
    held = Dataset(rest, labels, data.source + " (held out)", data.classes)
    return Split(calib, held, labels is not None, calib_labels)


def _outputs(
    backend: Backend, info: ModelInfo, data: Dataset, config: RuntimeConfig
) -> tuple[np.ndarray, bool, dict[str, Any]]:
    """First output per sample, flattened; whether it is a classifier's [1, classes] row; effective config."""
    shapes = {name: (1, *arr.shape[1:]) for name, arr in data.samples.items()}
    engine = backend.compile(info, shapes, config)
    try:
        outs = [next(iter(engine.infer(s).values())) for s in data.batches(1)]
        effective = engine.effective()
    finally:
        engine.close()
    return np.concatenate(outs).reshape(len(data), -1), outs[0].ndim == 2, effective


def fidelity(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Cosine similarity (mean over samples), max abs difference, and top-1 agreement."""
    num = (reference * candidate).sum(axis=1)
    den = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    cos = np.where(den > 0, num / np.maximum(den, 1e-30), 1.0)
    return {
        "cosine_mean": float(cos.mean()),
        "cosine_min": float(cos.min()),
        "max_abs_diff": float(np.abs(reference - candidate).max()),
        "top1_agreement": float((reference.argmax(axis=1) == candidate.argmax(axis=1)).mean()),
    }


def _speed(
    backend: Backend,
    fp32: ModelInfo,
    cand: ModelInfo,
    sets: list[InputSet],
    rounds: int,
    seconds: float,
    config: RuntimeConfig,
    cand_config: RuntimeConfig,
) -> dict[str, Any]:
    shapes = {name: tuple(arr.shape) for name, arr in sets[0].items()}
    limits = RunLimits(time_s=seconds, warmup_s=min(1.0, seconds / 2))
    tput: dict[str, list[float]] = {"fp32": [], "candidate": []}
    lat: dict[str, list[float]] = {"fp32": [], "candidate": []}
    for r in range(rounds):
        pair = [("fp32", fp32, config), ("candidate", cand, cand_config)]
        for key, model, cfg in pair if r % 2 == 0 else pair[::-1]:
            run = run_scenario(backend, model, shapes, sets, cfg, "throughput", limits)
            tput[key].append(run.throughput_fps["value"])
            lat[key].append(run.latency_ms["median"]["value"])
    speedup = paired_ratio_ci(tput["candidate"], tput["fp32"])
    return {
        "rounds": rounds,
        "seconds_per_run": seconds,
        "throughput_fps": tput,
        "median_latency_ms": lat,
        "throughput_speedup": {**speedup.to_dict(), "method": speedup.method},
    }


@dataclass(frozen=True)
class Candidate:
    """An optimized variant: a model file and/or runtime settings, judged against FP32."""

    path: Path
    label: str
    details: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)  # RuntimeConfig changes (precision hint, ...)


def quantize_model(
    backend: Backend,
    info: ModelInfo,
    data: Dataset,
    options: QuantizeOptions,
    *,
    max_drop: float,
    out: Path,
    rounds: int = 3,
    seconds: float = 5.0,
    synthetic: bool = False,
) -> dict[str, Any]:
    """Quantize, guard, measure; copy the winner to ``out``. Returns the result fields."""
    split = split_data(data, options.subset_size)
    with tempfile.TemporaryDirectory(prefix="inferperf-quant-") as tmp:
        made = backend.quantize(info, split.calibration, Path(tmp), options, split.calibration_labels)
        candidates = [Candidate(path, label, details) for path, label, details in made]
        fields = judge(backend, info, split, candidates, max_drop=max_drop, out=out, rounds=rounds, seconds=seconds)
    return {"calibration": {"samples": len(split.calibration), "source": data.source, "synthetic": synthetic}, **fields}


def judge(
    backend: Backend,
    info: ModelInfo,
    split: Split,
    candidates: list[Candidate],
    *,
    max_drop: float,
    out: Path | None,
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    """Guard every candidate on the held-out data, measure the accepted ones, keep the fastest."""
    if max_drop < 0:
        raise ConfigError(f"invalid --max-drop {max_drop}: must be >= 0")
    config = RuntimeConfig(backend=backend.name)
    bench_sets = split.held_out.batches(1)[:16]
    reference = _reference(backend, info, split, config)
    reference["peak_memory_mb"] = _peak_mb(backend, info, bench_sets[0], config)
    rows = [
        _judge(backend, info, c, split, reference, config, max_drop, bench_sets, rounds, seconds) for c in candidates
    ]
    winner = _winner(rows)
    if winner is not None:
        path = Path(winner["_path"])
        if winner["config_changes"]:
            winner["recommended_config"] = winner["config_changes"]  # runtime settings that go with it
        if path.resolve() not in {f.resolve() for f in info.files} and out is not None:
            winner["written_to"] = str(_save(path, out))
    for row in rows:
        row.pop("_path", None)
    return {
        "held_out": {"samples": len(split.held_out), "labelled": split.labelled},
        "guard": _guard_name(split.labelled, bool(reference["classifier"])),
        "max_drop": max_drop,
        "fp32": {k: v for k, v in reference.items() if k not in ("logits", "classifier")},
        "candidates": rows,
        "winner": winner["label"] if winner else None,
    }


def _reference(backend: Backend, info: ModelInfo, split: Split, config: RuntimeConfig) -> dict[str, Any]:
    logits, classifier, _ = _outputs(backend, info, split.held_out, config)
    ref: dict[str, Any] = {"logits": logits, "size_bytes": info.size_bytes, "classifier": classifier}
    if split.labelled and split.held_out.labels is not None:
        ref["top1"] = float((logits.argmax(axis=1) == split.held_out.labels).mean())
    return ref


def _judge(
    backend: Backend,
    fp32: ModelInfo,
    c: Candidate,
    split: Split,
    reference: dict[str, Any],
    config: RuntimeConfig,
    max_drop: float,
    bench_sets: list[InputSet],
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    cand = fp32 if c.path.resolve() == fp32.path.resolve() else load_model_info(c.path)
    cand_config = config.with_(**c.config)
    logits, _, effective = _outputs(backend, cand, split.held_out, cand_config)
    row: dict[str, Any] = {
        "label": c.label,
        "details": c.details,
        "size_bytes": cand.size_bytes,
        "config_changes": c.config,
        "_path": str(c.path),
        "effective": effective,
        "fidelity": fidelity(reference["logits"], logits),
    }
    if "top1" in reference and split.held_out.labels is not None:
        top1 = float((logits.argmax(axis=1) == split.held_out.labels).mean())
        row["top1"], row["drop"] = top1, reference["top1"] - top1
    elif reference["classifier"]:
        row["drop"] = 1.0 - row["fidelity"]["top1_agreement"]
    else:  # hidden states, embeddings, boxes: an argmax means nothing, the cosine does
        row["drop"] = 1.0 - row["fidelity"]["cosine_mean"]
    row["accepted"] = row["drop"] <= max_drop
    if not row["accepted"]:
        row["rejected_because"] = f"drop {row['drop']:.4f} exceeds --max-drop {max_drop}"
        return row
    row["speed"] = _speed(backend, fp32, cand, bench_sets, rounds, seconds, config, cand_config)
    row["peak_memory_mb"] = _peak_mb(backend, cand, bench_sets[0], cand_config)
    sp = row["speed"]["throughput_speedup"]
    row["significant_speedup"] = sp["ci95"][0] > 1.0
    return row


def _peak_mb(backend: Backend, info: ModelInfo, inputs: InputSet, config: RuntimeConfig) -> float | None:
    """Peak resident memory of a fresh process that compiles and runs the model (None if it failed)."""
    from inferperf.measure.worker import run_worker

    job = {
        "task": "memory",
        "model": str(info.path),
        "model_info": info.to_dict(),
        "backend": backend.name,
        "config": config.to_dict(),
        "shapes": {k: list(v.shape) for k, v in inputs.items()},
        "steady_s": 1.0,
        "leak_iterations": 1,
    }
    result = run_worker(job, timeout_s=600)
    return float(result.data["peak_mb"]) if result.ok else None


def _guard_name(labelled: bool, classifier: bool) -> str:
    if labelled:
        return "top-1 absolute drop"
    return "output fidelity: top-1 agreement drop" if classifier else "output fidelity: 1 - mean cosine"


def _winner(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    # A winner must keep accuracy and be measurably faster: a variant that is not is no improvement.
    ok = [r for r in rows if r["accepted"] and r.get("significant_speedup")]
    return max(ok, key=lambda r: r["speed"]["throughput_speedup"]["value"]) if ok else None


def _save(src: Path, out: Path) -> Path:
    # The winner is copied under the requested name; an IR travels with its .bin.
    target = out.with_suffix(src.suffix) if out.suffix != src.suffix else out
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    if src.suffix == ".xml":
        shutil.copyfile(src.with_suffix(".bin"), target.with_suffix(".bin"))
    return target
