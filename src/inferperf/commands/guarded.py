"""Model optimizations judged by an accuracy (or fidelity) guard and a side-by-side speed check."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import numpy as np

from inferperf.backends import Backend
from inferperf.config import QuantizeOptions, RuntimeConfig
from inferperf.errors import ConfigError
from inferperf.inputs import build_input_sets
from inferperf.jsonform import known_keywords
from inferperf.measure.environment import collect_environment
from inferperf.measure.target import ShapeSpec, as_spec, header, resolve
from inferperf.model import ModelInfo, load_model_info, parse_shape_spec, resolve_shapes
from inferperf.results.documents import GuardedDocument

SYNTHETIC_CALIBRATION = 64  # synthetic calibration inputs, with or without --shapes (half of 128 drawn)
GUARD_STREAM = 32  # held-out inputs drawn from a shape stream when `shapes` is given as a plain text

if TYPE_CHECKING:
    from inferperf.optimize.quantize import Row


class GuardArgs(TypedDict, total=False):
    """The keywords quantize, prune and precision share: the runtime, how the result is judged (``data``,
    ``max_drop``, ``shape`` or ``shapes``) and how long the speed check runs. Defaults: ``_DEFAULTS``."""

    backend: str
    data: str | Path | None
    max_drop: float
    shape: str | None
    rounds: int
    seconds: float
    warn: Callable[[str], None] | None
    shapes: ShapeSpec | str | None
    config: RuntimeConfig | None


_DEFAULTS: GuardArgs = {
    "backend": "openvino", "data": None, "max_drop": 0.01, "shape": None, "rounds": 3, "seconds": 5.0,
    "warn": None, "shapes": None, "config": None,
}  # fmt: skip


def _guard(command: str, given: GuardArgs) -> GuardArgs:
    """``given`` over the defaults (an unknown keyword: a TypeError)."""
    known_keywords(command, given, GuardArgs)
    return {**_DEFAULTS, **given}


def quantize(
    model: str | Path = "builtin",
    *,
    out: str | Path | None = None,
    options: QuantizeOptions | None = None,
    **guard: Unpack[GuardArgs],
) -> GuardedDocument:
    """INT8 quantization guarded by accuracy (or output fidelity), with an interleaved speed check.

    ``config`` is the runtime config of the float reference and of the candidates (its precision,
    read back, is named in ``fp32.executed_precision``).

    With ``shapes``, calibration and guard inputs are drawn from the shape distribution, and the
    speed check runs FP32 and INT8 on its stream with the varying dims open.
    """
    from inferperf.optimize.prune import precision_support
    from inferperf.optimize.quantize import quantize_model

    g = _guard("quantize", guard)
    t = resolve(model, g["backend"])
    plugin, info_ = t.plugin, t.info
    spec = as_spec(g["shapes"], stream=GUARD_STREAM)
    synthetic = True
    data, shape, warn = g["data"], g["shape"], g["warn"]
    if spec is not None:
        subset = (options or QuantizeOptions()).subset_size
        dataset = _guard_stream(info_, spec, data, shape, min(subset, SYNTHETIC_CALIBRATION), warn)
    else:
        dataset, synthetic = _guard_data(info_, model, data, shape, warn, "calibrating")
    # By default the INT8 model lands in the working folder (never inside the package or the zoo cache).
    target = Path(out) if out else Path.cwd() / f"{info_.path.stem}-int8{info_.path.suffix}"
    if target.resolve() in {f.resolve() for f in info_.files}:
        raise ConfigError(f"`out` {target} would overwrite the FP32 model")
    opts = replace(options or QuantizeOptions(), max_drop=g["max_drop"])
    fields = quantize_model(
        plugin, info_, dataset, opts, max_drop=g["max_drop"], out=target, rounds=g["rounds"], seconds=g["seconds"],
        synthetic=synthetic, config=g["config"],
    )  # fmt: skip
    support = precision_support("int8", collect_environment()["cpu"]["features"])
    for row in fields["candidates"]:
        row["details"]["support"] = support  # says why INT8 may not pay off on this CPU
    return _document("quantize", plugin, info_, fields)


def prune(
    model: str | Path = "builtin",
    *,
    sparsity: float = 0.5,
    out: str | Path | None = None,
    **guard: Unpack[GuardArgs],
) -> GuardedDocument:
    """Magnitude sparsity on weights, judged for accuracy and re-measured side by side."""
    import tempfile

    from inferperf.optimize.prune import sparsify
    from inferperf.optimize.quantize import Candidate

    g = _guard("prune", guard)
    t = resolve(model, g["backend"])
    plugin, info_ = t.plugin, t.info
    target = Path(out) if out else Path.cwd() / f"{info_.path.stem}-sparse{int(sparsity * 100)}.onnx"
    if target.resolve() in {f.resolve() for f in info_.files}:
        raise ConfigError(f"`out` {target} would overwrite the original model")
    sparse_props = plugin.sparse_weight_properties(sparsity)
    # Calibration samples are needed only for the INT8 sparse variant; the guard keeps the rest.
    calibration = (SYNTHETIC_CALIBRATION, 300) if sparse_props else (0, 0)
    split, data_record = _guard_split(info_, model, g, calibration)
    with tempfile.TemporaryDirectory(prefix="inferperf-prune-") as tmp:
        pruned = Path(tmp) / target.name
        details = sparsify(info_, sparsity, pruned)
        cands = [Candidate(pruned, f"magnitude sparsity {sparsity:.0%}", details)]
        if sparse_props:
            cands += _sparse_int8(plugin, load_model_info(pruned), split, Path(tmp), sparse_props, details)
        fields = _judge(plugin, info_, split, cands, g, out=target)
    row = fields["candidates"][0]
    if row.get("accepted") and not row.get("significant_speedup"):
        row["note"] = "no significant speed-up: the runtime's dense kernels do not skip zero weights"
    _compare_sparse(fields["candidates"])
    return _document("prune", plugin, info_, fields, data_record)


def precision(
    model: str | Path = "builtin",
    *,
    precisions: Sequence[str] = ("bf16", "f16"),
    **guard: Unpack[GuardArgs],
) -> GuardedDocument:
    """Inference-precision hints (bf16, f16) against f32: accuracy, speed, and native support on this CPU."""
    from inferperf.optimize.prune import precision_support
    from inferperf.optimize.quantize import Candidate

    g = _guard("precision", guard)
    t = resolve(model, g["backend"])
    plugin, info_ = t.plugin, t.info
    split, data_record = _guard_split(info_, model, g, (0, 0))
    features = collect_environment()["cpu"]["features"]
    candidates = []
    for p in precisions:
        RuntimeConfig(inference_precision=p)  # validates the name
        support = precision_support(p, features)
        candidates.append(
            Candidate(info_.path, f"inference precision {p}", {"support": support}, {"inference_precision": p})
        )
    config = g["config"]
    if config is not None and config.inference_precision not in (None, "f32"):
        raise ConfigError(
            "precision compares each of `precisions` against f32: leave inference_precision out of `config`"
        )
    # The reference is pinned to f32: on a bf16-default CPU an unpinned "f32" reference would run bf16.
    reference = (config or RuntimeConfig()).with_(inference_precision="f32")
    fields = _judge(plugin, info_, split, candidates, {**g, "config": reference}, out=None)
    key = plugin.precision_property
    for row, p in zip(fields["candidates"], precisions, strict=True):
        # Say plainly what ran: a CPU plug-in may accept the hint and still compute in f32.
        reported = row.get("effective", {}).get(key) if key else None
        row["details"]["runtime_reports"] = reported
        if reported is not None and reported != p:
            row["details"]["support"] += f"; the runtime reports {key}={reported}, not {p}"
    return _document("precision", plugin, info_, fields, data_record)


def _judge(plugin: Backend, info_: ModelInfo, split: Any, cands: list[Any], g: GuardArgs, out: Path | None) -> Any:
    """The candidates judged against the reference under ``g``'s guard and speed check."""
    from inferperf.optimize.quantize import judge

    return judge(
        plugin, info_, split, cands, max_drop=g["max_drop"], out=out, rounds=g["rounds"], seconds=g["seconds"],
        config=g["config"],
    )  # fmt: skip


def _document(
    kind: str, plugin: Backend, info_: ModelInfo, fields: Mapping[str, Any], data: Mapping[str, Any] | None = None
) -> GuardedDocument:
    """The guarded command's result: its header, the model, the backend, the data it was judged on, the rows."""
    record = {**header(kind, plugin), "model": info_.to_dict(), "backend": plugin.name}
    return GuardedDocument.from_dict({**record, **({"data": data} if data is not None else {}), **fields})


def _guard_stream(
    info_: ModelInfo,
    spec: ShapeSpec,
    data: str | Path | None,
    shape: str | None,
    calibration: int,
    warn: Callable[[str], None] | None,
) -> Any:
    """A split whose calibration and held-out inputs are synthetic, at the shapes of the distribution."""
    from inferperf.optimize.quantize import stream_split

    if data is not None:
        raise ConfigError("`shapes` draws synthetic inputs at the distribution's shapes: leave out `data`")
    if shape is not None:
        raise ConfigError("`shapes` and `shape` both set the shapes: give one")
    split = stream_split(
        info_, spec.text, calibration=calibration, held_out=spec.stream, seed=spec.seed, histogram=spec.histogram
    )
    if warn is not None:
        warn(
            "--shapes: judging on SYNTHETIC inputs drawn at the distribution's shapes; accuracy cannot be "
            "checked, only output fidelity against FP32, per shape group."
        )
    return split


def _guard_split(
    info_: ModelInfo, model: str | Path, g: GuardArgs, calibration: tuple[int, int]
) -> tuple[Any, dict[str, Any]]:
    """The calibration/held-out split an optimization is judged on, and its record: from the shape stream
    (``calibration[0]`` synthetic samples to calibrate) or from the data (``calibration[1]`` samples)."""
    from inferperf.optimize.quantize import split_data

    data, shape, warn = g["data"], g["shape"], g["warn"]
    spec = as_spec(g["shapes"], stream=GUARD_STREAM)
    if spec is not None:
        split = _guard_stream(info_, spec, data, shape, calibration[0], warn)
        return split, {"source": "shape stream (synthetic inputs)", "synthetic": True}
    dataset, synthetic = _guard_data(info_, model, data, shape, warn)
    return split_data(dataset, calibration[1]), {"source": dataset.source, "synthetic": synthetic}


def _guard_data(
    info_: ModelInfo,
    model: str | Path,
    data: str | Path | None,
    shape: str | None,
    warn: Callable[[str], None] | None,
    doing: str = "judging",
) -> tuple[Any, bool]:
    """The data an optimization is judged on: the user's, the built-in split, or loud synthetic inputs."""
    from inferperf.inputs.dataset import Dataset, load_dataset

    source = data if data is not None else ("builtin" if str(model) == "builtin" else None)
    if source is not None:
        return load_dataset(source, info_), False
    shapes = resolve_shapes(info_, parse_shape_spec(shape), 1)
    sets = build_input_sets(info_, shapes, sets=128, seed=0)
    if warn is not None:
        warn(
            f"no --data: {doing} on SYNTHETIC inputs; accuracy cannot be checked, only output fidelity "
            "against FP32 on other synthetic inputs. Pass --data for a real guard."
        )
    return Dataset({k: np.concatenate([s[k] for s in sets]) for k in sets[0]}, None, "synthetic inputs"), True


def _sparse_int8(
    plugin: Backend, pruned: ModelInfo, split: Any, tmp: Path, props: dict[str, str], details: Mapping[str, Any]
) -> list[Any]:
    """INT8 of the pruned model, run with and without the runtime's sparse-weight decompression."""
    from inferperf.optimize.quantize import Candidate

    made = plugin.quantize(pruned, split.calibration, tmp, QuantizeOptions(accuracy_control=False))
    path = made[0][0]
    return [
        Candidate(path, "sparse + INT8, dense kernels", {**details, "int8": made[0][1]}),
        Candidate(
            path, "sparse + INT8, sparse-weight decompression", {**details, "properties": props}, {"properties": props}
        ),
    ]


def _compare_sparse(rows: list[Row]) -> None:
    # The fair test of sparse decompression is INT8 sparse with it against INT8 sparse without it.
    by_label = {r["label"]: r for r in rows}
    dense, sparse = (
        by_label.get("sparse + INT8, dense kernels"),
        by_label.get("sparse + INT8, sparse-weight decompression"),
    )
    if not dense or not sparse or "speed" not in dense or "speed" not in sparse:
        return
    a = sparse["speed"]["throughput_speedup"]["value"] / dense["speed"]["throughput_speedup"]["value"]
    sparse["note"] = (
        f"sparse decompression vs dense INT8 kernels: {a:.2f}x (ratio of their speed-ups over FP32); "
        "it applies to INT8 fully-connected (MatMul) layers only, and OpenVINO documents it for CPUs with "
        "Intel AMX; elsewhere expect none"
    )
