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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from inferperf.backends.base import Backend, InputSet
from inferperf.config import QuantizeOptions, RunLimits, RuntimeConfig
from inferperf.errors import BackendError, ConfigError, InputSpecError
from inferperf.inputs.dataset import Dataset
from inferperf.inputs.distribution import bin_order
from inferperf.measure.dynamic_plan import StreamPlan
from inferperf.measure.runner import run_scenario
from inferperf.model.info import ModelInfo, load_model_info
from inferperf.stats import paired_ratio_ci


@dataclass(frozen=True)
class StreamSplit:
    """``--shapes`` without data: held-out inputs drawn at the shapes of the distribution.

    The guard and the speed check run on one engine per model with the varying dims open, so an
    optimization is judged on the shapes it will see, group by group, not at one fixed shape.
    """

    plan: StreamPlan  # the held-out stream: its items (shape, group) and the dims the engines keep open
    inputs: list[InputSet]
    record: dict[str, Any]  # how the calibration and held-out streams were drawn, for the result


@dataclass(frozen=True)
class Split:
    """Calibration input sets, and the held-out data the guard scores on."""

    calibration: list[InputSet]
    held_out: Dataset | None  # None when the held-out inputs are a shape stream
    labelled: bool
    calibration_labels: list[int] | None = None
    stream: StreamSplit | None = None

    def held_out_count(self) -> int:
        """Samples the guard scores on."""
        if self.stream is not None:
            return len(self.stream.inputs)
        return len(self.held_out) if self.held_out is not None else 0


_ATTENTION_OPS = {"Softmax", "SoftMax"}
_NORM_OPS = {"LayerNormalization", "MVN", "ReduceMean", "SimplifiedLayerNormalization"}


def looks_like_transformer(info: ModelInfo) -> bool:
    """Attention (Softmax), normalisation and more MatMuls than convolutions: worth NNCF's transformer mode
    (SmoothQuant, float attention), without which BERT's INT8 hidden states drifted to cosine 0.985 here."""
    ops: list[str] = []
    try:
        if info.format == "onnx":
            import onnx

            proto = onnx.load(str(info.path), load_external_data=False)
            ops = [n.op_type for n in proto.graph.node]
        elif info.path.suffix == ".xml":
            import re

            ops = re.findall(r'<layer [^>]*type="([A-Za-z0-9_]+)"', info.path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    matmuls = sum(op in ("MatMul", "Gemm") for op in ops)
    convs = sum(op in ("Conv", "Convolution", "GroupConvolution") for op in ops)
    return bool(_ATTENTION_OPS & set(ops)) and bool(_NORM_OPS & set(ops)) and matmuls > convs


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


def stream_split(
    info: ModelInfo,
    text: str,
    *,
    calibration: int,
    held_out: int,
    seed: int = 0,
    histogram: str | Path | None = None,
    int_range: tuple[int, int] | None = None,
) -> Split:
    """Synthetic calibration and held-out inputs, each a seeded stream drawn from ``--shapes``.

    Calibrating at one fixed shape sets the activation ranges of that shape only; drawn from the
    distribution, the ranges cover the lengths the model will see. The two streams use different
    seeds, so the guard never scores a calibration input.
    """
    from inferperf.measure.dynamic_plan import plan_stream, stream_inputs

    if text.strip() == "data":
        raise ConfigError(
            "--shapes data takes sizes from --data, which here is the calibration data: give groups or a range"
        )
    if held_out < 2:
        raise ConfigError(f"invalid --stream {held_out}: the guard needs at least 2 held-out inputs")
    held = plan_stream(info, text, stream=held_out, seed=seed, histogram=histogram)
    calib_sets: list[InputSet] = []
    calib_groups: dict[str, int] = {}
    if calibration > 0:
        calib = plan_stream(info, text, stream=calibration, seed=seed + 1, histogram=histogram)
        calib_sets, calib_groups = stream_inputs(info, calib.items, seed + 1, int_range), calib.per_group()
    record = {
        "spec": text,
        "source": held.source,
        "seed": seed,
        "held_out_per_group": held.per_group(),
        "calibration_per_group": calib_groups,
    }
    inputs = stream_inputs(info, held.items, seed, int_range)
    return Split(calib_sets, None, False, None, StreamSplit(held, inputs, record))


Outputs = np.ndarray | list[np.ndarray]  # [N, K] at one shape; one flat row per sample on a shape stream


def _outputs(
    backend: Backend, info: ModelInfo, split: Split, config: RuntimeConfig
) -> tuple[Outputs, bool, dict[str, Any]]:
    """First output per held-out sample, flattened; whether it is a classifier's [1, classes] row; effective config."""
    if split.stream is not None:
        engine = backend.compile_dynamic(info, split.stream.plan.ranges, config)
        sets = split.stream.inputs
    else:
        assert split.held_out is not None
        shapes = {name: (1, *arr.shape[1:]) for name, arr in split.held_out.samples.items()}
        engine = backend.compile(info, shapes, config)
        sets = split.held_out.batches(1)
    try:
        outs = [next(iter(engine.infer(s).values())) for s in sets]
        effective = engine.effective()
    finally:
        engine.close()
    classifier = outs[0].ndim == 2
    if split.stream is not None:
        return [o.reshape(-1) for o in outs], classifier, effective
    return np.concatenate(outs).reshape(len(sets), -1), classifier, effective


class Fidelity(TypedDict):
    """A candidate's outputs against the reference's, over the held-out samples (and per shape group)."""

    cosine_mean: float
    cosine_min: float
    max_abs_diff: float
    top1_agreement: float
    per_group: NotRequired[dict[str, dict[str, float]]]


class Speed(TypedDict):
    """The reference and a candidate measured side by side, in alternating rounds; the paired speed-up."""

    rounds: int
    throughput_fps: dict[str, list[float]]
    median_latency_ms: dict[str, Any]
    throughput_speedup: dict[str, Any]
    seconds_per_run: NotRequired[float]  # fixed inputs
    scenario: NotRequired[str]  # a shape stream: its inputs and per-group speed-ups
    stream_inputs: NotRequired[int]
    per_group: NotRequired[list[dict[str, Any]]]


class Row(TypedDict, total=False):
    """One candidate judged: its guard figures, and for an accepted one, its speed and memory."""

    label: str
    details: dict[str, Any]
    size_bytes: int
    config_changes: dict[str, Any]
    _path: str  # where the candidate lies until the winner is copied out (not written)
    effective: dict[str, Any]
    fidelity: Fidelity
    top1: float
    drop: float
    accepted: bool
    rejected_because: str
    speed: Speed
    peak_memory_mb: float | None
    significant_speedup: bool
    recommended_config: dict[str, Any]
    written_to: str
    note: str  # what the command adds (e.g. why sparsity did not speed up)


class Judged(TypedDict):
    """The guard's verdict over every candidate: the fields of a quantize, prune or precision document."""

    held_out: dict[str, Any]
    guard: str
    max_drop: float
    fp32: dict[str, Any]
    candidates: list[Row]
    winner: str | None
    calibration: NotRequired[dict[str, Any]]


def _rows(outputs: Outputs) -> list[np.ndarray]:
    return [np.asarray(r, dtype=np.float64).reshape(-1) for r in outputs]


def fidelity(reference: Outputs, candidate: Outputs, groups: list[str] | None = None) -> Fidelity:
    """Cosine similarity (mean over samples), max abs difference, and top-1 agreement.

    Samples may differ in size (a shape stream); with ``groups`` (a label per sample) the same
    figures are also given per shape group, since a quantized model can hold at one length and
    drift at another.
    """
    ref, cand = _rows(reference), _rows(candidate)
    cos = np.array([_cosine(a, b) for a, b in zip(ref, cand, strict=True)])
    diff = np.array([float(np.abs(a - b).max()) for a, b in zip(ref, cand, strict=True)])
    agree = np.array([int(a.argmax()) == int(b.argmax()) for a, b in zip(ref, cand, strict=True)])
    figures = _fidelity_figures(cos, diff, agree)
    out: Fidelity = {
        "cosine_mean": figures["cosine_mean"],
        "cosine_min": figures["cosine_min"],
        "max_abs_diff": figures["max_abs_diff"],
        "top1_agreement": figures["top1_agreement"],
    }
    if groups is not None:
        order = list(dict.fromkeys(groups))
        out["per_group"] = {
            g: {
                **_fidelity_figures(*(x[[i for i, h in enumerate(groups) if h == g]] for x in (cos, diff, agree))),
                "samples": groups.count(g),
            }
            for g in order
        }
    return out


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / den if den > 0 else 1.0


def _fidelity_figures(cos: np.ndarray, diff: np.ndarray, agree: np.ndarray) -> dict[str, float]:
    return {
        "cosine_mean": float(cos.mean()),
        "cosine_min": float(cos.min()),
        "max_abs_diff": float(diff.max()),
        "top1_agreement": float(agree.mean()),
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
) -> Speed:
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


def _stream_speed(
    backend: Backend,
    fp32: ModelInfo,
    cand: ModelInfo,
    stream: StreamSplit,
    rounds: int,
    config: RuntimeConfig,
    cand_config: RuntimeConfig,
) -> Speed:
    """FP32 and the candidate on the held-out shape stream, one open-dims engine each.

    One request at a time, every input on both models back to back in rotating order (as
    ``inferperf dynamic`` does): the two see the same machine within milliseconds, so the
    per-round ratios stay tight on a drifting host. Whole-stream and per-group speed-ups.
    """
    from inferperf.measure.dynamic import Live, Records, close_live, compile_plan, round_per_input, warm_pass
    from inferperf.measure.dynamic_plan import Plan

    items = stream.plan.items
    plan = Plan("fp32", [stream.plan.ranges], [0] * len(items), [dict(it.shapes) for it in items])
    lives: list[Live] = []
    records: Records = {}
    try:
        for name, model, cfg in (("fp32", fp32, config), ("candidate", cand, cand_config)):
            live = compile_plan(backend, model, replace(plan, name=name), stream.inputs, cfg)
            lives.append(live)
            warm_pass(live, 1)  # first sight of every shape, before anything is measured
        for r in range(rounds):
            round_per_input(lives, r, records)
        if records:
            raise BackendError(next(iter(records.values()))["error"])
        per_round = {lv.plan.name: [rd["latency_ms"] for rd in lv.rounds] for lv in lives}
    finally:
        for live in lives:
            close_live(live)
    return _stream_speed_record(items, per_round, rounds)


def _stream_speed_record(items: list[Any], per_round: dict[str, list[list[float]]], rounds: int) -> Speed:
    def tput(lat: list[float], idx: list[int]) -> float:
        return len(idx) / (sum(lat[i] for i in idx) / 1e3)

    every = list(range(len(items)))
    tp = {k: [tput(r, every) for r in v] for k, v in per_round.items()}
    speedup = paired_ratio_ci(tp["candidate"], tp["fp32"])
    groups = []
    for label in bin_order(items):
        idx = [i for i, it in enumerate(items) if it.bin == label]
        g = {k: [tput(r, idx) for r in v] for k, v in per_round.items()}
        ci = paired_ratio_ci(g["candidate"], g["fp32"])
        med = {k: float(np.median([r[i] for r in v for i in idx])) for k, v in per_round.items()}
        groups.append(
            {
                "group": label,
                "inputs": len(idx),
                "median_latency_ms": med,
                "speedup": {**ci.to_dict(), "method": ci.method},
            }
        )
    return {
        "rounds": rounds,
        "scenario": "shape stream, one request at a time, FP32 and candidate back to back per input",
        "stream_inputs": len(items),
        "throughput_fps": tp,
        "median_latency_ms": {k: [float(np.median(r)) for r in v] for k, v in per_round.items()},
        "throughput_speedup": {**speedup.to_dict(), "method": speedup.method},
        "per_group": groups,
    }


@dataclass(frozen=True)
class Candidate:
    """An optimized variant: a model file and/or runtime settings, judged against FP32."""

    path: Path
    label: str
    details: Mapping[str, Any]  # how it was made; each judged row gets its own copy
    config: dict[str, Any] = field(default_factory=dict)  # RuntimeConfig changes (precision hint, ...)


def quantize_model(
    backend: Backend,
    info: ModelInfo,
    data: Dataset | Split,
    options: QuantizeOptions,
    *,
    max_drop: float,
    out: Path,
    rounds: int = 3,
    seconds: float = 5.0,
    synthetic: bool = False,
    config: RuntimeConfig | None = None,
) -> Judged:
    """Quantize, guard, measure; copy the winner to ``out``. Returns the result fields.

    ``data`` is split here, or comes split already (a shape stream: see ``stream_split``).
    """
    split = data if isinstance(data, Split) else split_data(data, options.subset_size)
    source = "shape stream (synthetic inputs)" if isinstance(data, Split) else data.source
    with tempfile.TemporaryDirectory(prefix="inferperf-quant-") as tmp:
        made = backend.quantize(info, split.calibration, Path(tmp), options, split.calibration_labels)
        candidates = [Candidate(path, label, details) for path, label, details in made]
        fields = judge(
            backend, info, split, candidates, max_drop=max_drop, out=out, rounds=rounds, seconds=seconds, config=config
        )
    calibration = {"samples": len(split.calibration), "source": source, "synthetic": synthetic}
    return {"calibration": calibration, **fields}  # calibration first, as the document has always had it


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
    config: RuntimeConfig | None = None,
) -> Judged:
    """Guard every candidate on the held-out data, measure the accepted ones, keep the fastest.

    The reference runs at ``config`` (the runtime's defaults when None): its executed precision is
    read back and named, since an "FP32" reference that a bf16-default CPU ran in bf16 is not FP32.
    """
    if max_drop < 0:
        raise ConfigError(f"invalid --max-drop {max_drop}: must be >= 0")
    config = (config or RuntimeConfig()).with_(backend=backend.name)
    if split.stream is not None:
        bench_sets: list[InputSet] = []
        peak_shapes = split.stream.plan.largest  # memory at the stream's largest input: the peak it will see
    else:
        assert split.held_out is not None
        bench_sets = split.held_out.batches(1)[:16]
        peak_shapes = {k: tuple(v.shape) for k, v in bench_sets[0].items()}
    reference = _reference(backend, info, split, config)
    reference["peak_memory_mb"] = _peak_mb(backend, info, peak_shapes, config)
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
    held: dict[str, Any] = {"samples": split.held_out_count(), "labelled": split.labelled}
    if split.stream is not None:
        held["shapes"] = split.stream.record
        held["peak_memory_at"] = {k: list(v) for k, v in peak_shapes.items()}
    return {
        "held_out": held,
        "guard": _guard_name(split.labelled, bool(reference["classifier"])),
        "max_drop": max_drop,
        "fp32": {k: v for k, v in reference.items() if k not in ("logits", "classifier")},
        "candidates": rows,
        "winner": winner["label"] if winner else None,
    }


class Reference(TypedDict):
    """The float model every candidate is judged against: its outputs, what precision ran, its top-1."""

    logits: Outputs
    size_bytes: int
    classifier: bool
    executed_precision: str
    precision_requested: str
    precision_note: NotRequired[str]  # it ran another precision than f32
    top1: NotRequired[float]  # with labelled data
    peak_memory_mb: NotRequired[float | None]


def _reference(backend: Backend, info: ModelInfo, split: Split, config: RuntimeConfig) -> Reference:
    logits, classifier, effective = _outputs(backend, info, split, config)
    precision = str(effective.get("executed_precision") or "f32")
    ref: Reference = {
        "logits": logits,
        "size_bytes": info.size_bytes,
        "classifier": classifier,
        "executed_precision": precision,
        "precision_requested": config.inference_precision or "runtime default",
    }
    if precision != "f32":
        ref["precision_note"] = (
            f"the float reference ran {precision} (the runtime's default on this CPU), not f32: candidates are "
            "judged against it; inference_precision=f32 judges against full precision"
        )
    labels = split.held_out.labels if split.held_out is not None else None
    if split.labelled and labels is not None and isinstance(logits, np.ndarray):
        ref["top1"] = float((logits.argmax(axis=1) == labels).mean())
    return ref


def _judge(
    backend: Backend,
    fp32: ModelInfo,
    c: Candidate,
    split: Split,
    reference: Reference,
    config: RuntimeConfig,
    max_drop: float,
    bench_sets: list[InputSet],
    rounds: int,
    seconds: float,
) -> Row:
    cand = fp32 if c.path.resolve() == fp32.path.resolve() else load_model_info(c.path)
    cand_config = config.with_(**c.config)
    logits, _, effective = _outputs(backend, cand, split, cand_config)
    groups = [it.bin for it in split.stream.plan.items] if split.stream is not None else None
    row: Row = {
        "label": c.label,
        "details": dict(c.details),
        "size_bytes": cand.size_bytes,
        "config_changes": c.config,
        "_path": str(c.path),
        "effective": effective,
        "fidelity": fidelity(reference["logits"], logits, groups),
    }
    if split.stream is not None:  # groups in size order, as every other per-group table
        per = row["fidelity"]["per_group"]
        row["fidelity"]["per_group"] = {g: per[g] for g in bin_order(split.stream.plan.items)}
    labels = split.held_out.labels if split.held_out is not None else None
    if "top1" in reference and labels is not None and isinstance(logits, np.ndarray):
        top1 = float((logits.argmax(axis=1) == labels).mean())
        row["top1"], row["drop"] = top1, reference["top1"] - top1
    elif reference["classifier"]:
        row["drop"] = 1.0 - row["fidelity"]["top1_agreement"]
    else:  # hidden states, embeddings, boxes: an argmax means nothing, the cosine does
        row["drop"] = 1.0 - row["fidelity"]["cosine_mean"]
    row["accepted"] = row["drop"] <= max_drop
    if not row["accepted"]:
        row["rejected_because"] = f"drop {row['drop']:.4f} exceeds --max-drop {max_drop}"
        return row
    if split.stream is not None:
        row["speed"] = _stream_speed(backend, fp32, cand, split.stream, rounds, config, cand_config)
        peak_shapes = split.stream.plan.largest
    else:
        row["speed"] = _speed(backend, fp32, cand, bench_sets, rounds, seconds, config, cand_config)
        peak_shapes = {k: tuple(v.shape) for k, v in bench_sets[0].items()}
    row["peak_memory_mb"] = _peak_mb(backend, cand, peak_shapes, cand_config)
    sp = row["speed"]["throughput_speedup"]
    row["significant_speedup"] = sp["ci95"][0] > 1.0
    return row


def _peak_mb(
    backend: Backend, info: ModelInfo, shapes: dict[str, tuple[int, ...]], config: RuntimeConfig
) -> float | None:
    """Peak resident memory of a fresh process that compiles and runs the model (None if it failed)."""
    from inferperf.measure.worker import run_worker

    job = {
        "task": "memory",
        "model": str(info.path),
        "model_info": info.to_dict(),
        "backend": backend.name,
        "config": config.to_dict(),
        "shapes": {k: list(v) for k, v in shapes.items()},
        "steady_s": 1.0,
        "leak_iterations": 1,
    }
    result = run_worker(job, timeout_s=600)
    return float(result.data["peak_mb"]) if result.ok else None


def _guard_name(labelled: bool, classifier: bool) -> str:
    if labelled:
        return "top-1 absolute drop"
    return "output fidelity: top-1 agreement drop" if classifier else "output fidelity: 1 - mean cosine"


def _winner(rows: list[Row]) -> Row | None:
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
