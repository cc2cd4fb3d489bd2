"""The Python API: everything the CLI does, callable from code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from inferperf.backends import Backend, get_backend
from inferperf.config import MODES, OptimizeOptions, QuantizeOptions, RunLimits, RuntimeConfig, Scenario, TuneOptions
from inferperf.errors import BackendError, ConfigError, InferperfError
from inferperf.inputs import build_input_sets
from inferperf.inputs.providers import check_inputs_fit
from inferperf.measure.environment import collect_environment
from inferperf.measure.peak import load_cached_peak
from inferperf.measure.runner import Progress, fit_config, merge_repeats, run_scenario
from inferperf.model import ModelInfo, fed_batch, load_model_info, parse_shape_spec, reconcile_batch, resolve_shapes
from inferperf.model.flops import FlopCount
from inferperf.results.schema import SCHEMA, BenchResult, RunResult, save_json

# progress_factory(label) -> a progress callback for that run, or None
ProgressFactory = Callable[[str], Progress | None]


def info(model: str | Path) -> ModelInfo:
    """Inspect a model file (or ``builtin``): format, inputs, outputs, size, hash."""
    return load_model_info(model)


def _modes(mode: str) -> tuple[Scenario, ...]:
    if mode not in MODES:
        raise ConfigError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
    return MODES[mode]  # type: ignore[return-value]


def bench(
    model: str | Path,
    *,
    backends: Sequence[str] = ("openvino",),
    mode: str = "both",
    config: RuntimeConfig | None = None,
    limits: RunLimits | None = None,
    shape: str | None = None,
    inputs: str | Path | None = None,
    int_range: tuple[int, int] | None = None,
    input_values: dict[str, float] | None = None,
    seed: int = 0,
    data: str | Path | None = None,
    progress_factory: ProgressFactory | None = None,
) -> BenchResult:
    """Measure latency and/or throughput of ``model`` on each backend.

    Every (backend, scenario) pair is compiled and measured apart. A runtime
    failure in one run is recorded in ``errors`` and the others still run;
    when no run succeeds, the first failure is raised.
    """
    config = config or RuntimeConfig()
    limits = limits or RunLimits()
    scenarios = _modes(mode)
    plugins = [get_backend(name) for name in backends]  # fail fast on unknown/missing
    info_ = load_model_info(model)
    shapes = resolve_shapes(info_, parse_shape_spec(shape), config.batch)
    if data is not None:
        input_sets = _dataset_sets(info_, data, config.batch)
        shapes = {k: tuple(v.shape) for k, v in input_sets[0].items()}
    else:
        input_sets = build_input_sets(info_, shapes, npz=inputs, seed=seed, int_range=int_range, values=input_values)
        shapes = {k: tuple(v.shape) for k, v in input_sets[0].items()}
    # Items per inference come from the tensors fed, never from the batch field alone.
    config = fit_config(info_, input_sets, config)
    environment = collect_environment()
    runs: list[RunResult] = []
    errors: list[dict[str, str]] = []
    for plugin in plugins:
        environment["versions"].update(plugin.versions())
    # Runs are interleaved (every backend and scenario once, then again, ...) so that slow shifts of the
    # machine spread over all of them instead of hitting one; see RunLimits.runs_plan for how many.
    per_key: dict[tuple[str, str], list[RunResult]] = {}
    failed: set[tuple[str, str]] = set()
    least, most, each = limits.runs_plan()
    repeat = 0
    while repeat < most and (repeat < least or _needs_more_runs(per_key)):
        for plugin in plugins:
            for scenario in scenarios:
                key = (plugin.name, scenario)
                if key in failed:
                    continue
                suffix = f" (run {repeat + 1}/{least}{'+' if most > least else ''})" if most > 1 else ""
                progress = progress_factory(f"{plugin.name} {scenario}{suffix}") if progress_factory else None
                try:
                    run = run_scenario(
                        plugin, info_, shapes, input_sets, config.with_(backend=plugin.name), scenario, each, progress
                    )
                except BackendError as exc:
                    failed.add(key)
                    errors.append({"backend": plugin.name, "scenario": scenario, "error": exc.one_line()})
                    continue
                per_key.setdefault(key, []).append(run)
        repeat += 1
    runs = [merge_repeats(v) for v in per_key.values()]
    if not runs and errors:
        raise BackendError(errors[0]["error"])
    macs = _macs_per_item(info_, shapes, config.batch)
    if macs is not None:
        peak = load_cached_peak(environment["cpu"]["model"], _runtime_versions(environment))
        runs = [replace(r, compute=_compute(r, macs, peak)) for r in runs]
    model_doc: dict[str, Any] = {
        **info_.to_dict(),
        "shapes": {k: list(v) for k, v in shapes.items()},
        "macs_per_item": macs,
    }
    cross, comparison = _across_backends(plugins, info_, shapes, input_sets[0], config, runs, progress_factory)
    return BenchResult(
        model=model_doc,
        environment=environment,
        limits=limits.to_dict(),
        runs=tuple(runs),
        created=_created(),
        errors=tuple(errors),
        cross_check=cross,
        comparison=comparison,
    )


def _needs_more_runs(per_key: dict[tuple[str, str], list[RunResult]]) -> bool:
    """Another round of runs where an interval is still wider than RUNS_PRECISION (each run has a fixed
    length, so more runs is the only way to narrow it, whichever level dominates)."""
    from inferperf.config import RUNS_PRECISION

    for runs in per_key.values():
        merged = merge_repeats(runs)
        for stat in (merged.latency_ms["median"], merged.throughput_fps):
            value, (lo, hi) = stat["value"], stat["ci95"]
            wide = value > 0 and hi is not None and max(value - lo, hi - value) / value > RUNS_PRECISION
            if wide:
                return True
    return False


def _across_backends(
    plugins: Sequence[Backend],
    info_: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    inputs: dict[str, Any],
    config: RuntimeConfig,
    runs: Sequence[RunResult],
    progress_factory: ProgressFactory | None,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    """With several backends: do their outputs agree on one input set, and the speed ratios to the first."""
    from inferperf.measure.crosscheck import backend_ratios, cross_check

    if len(plugins) < 2:
        return None, None

    current: list[Progress] = []

    def on_backend(name: str) -> None:
        for done in current:
            done(1.0, "done")
        update = progress_factory(f"{name} cross-check") if progress_factory else None
        current[:] = [update] if update is not None else []
        for started in current:
            started(0.0, "compiling, one inference")

    cross = cross_check(plugins, info_, shapes, inputs, config, on_backend)
    for done in current:
        done(1.0, "done")
    return cross, backend_ratios(runs)


def _count(info_: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> tuple[FlopCount | None, str]:
    """MACs from the first backend that can count them (OpenVINO resolves more shapes), else ONNX."""
    from inferperf.backends import backend_names
    from inferperf.model.flops import count_macs

    for name in backend_names():
        try:
            count = get_backend(name).count_macs(info_, shapes)
        except InferperfError:
            continue
        if count is not None:
            return count, f"{name} graph"
    if info_.format != "onnx":
        return None, "no installed runtime can count FLOPs of an OpenVINO IR"
    return count_macs(info_.path, shapes), "ONNX shape inference"


def _macs_per_item(info_: ModelInfo, shapes: dict[str, tuple[int, ...]], batch: int) -> int | None:
    try:
        count, _ = _count(info_, shapes)
    except InferperfError:
        return None
    return count.macs // batch if count is not None and count.macs and count.exact else None


def _runtime_versions(environment: dict[str, Any]) -> dict[str, str]:
    # Package versions as collect_environment reads them (before backends add their build strings).
    from inferperf.measure.environment import package_versions

    return {k: v for k, v in package_versions().items() if k in ("openvino", "onnxruntime", "numpy")}


def _compute(run: RunResult, macs: int, peak: dict[str, Any] | None) -> dict[str, Any]:
    """Effective GFLOP/s (model FLOPs x throughput) and its fraction of the measured matmul peak."""
    tput = run.throughput_fps
    lo, hi = tput["ci95"]
    scale = 2 * macs / 1e9
    out: dict[str, Any] = {
        "flops_per_item": 2 * macs,
        "effective_gflops": {
            "value": tput["value"] * scale,
            "ci95": [lo * scale, hi * scale if hi is not None else None],
        },
        "note": "model FLOPs (2 x MACs of Conv/MatMul/Gemm) / time; fast algorithms (Winograd) can exceed "
        "a matmul-measured peak",
    }
    # The fraction is taken against the peak of the precision the run executed: a bf16 run against an
    # f32 peak would read as up to twice the hardware's use.
    executed = run.effective.get("executed_precision") or "f32"
    label = "bf16" if executed == "bf16" else "fp32"
    peak_value = (peak or {}).get(f"{label}_peak_gflops")
    if peak_value:
        out["peak_gflops"] = peak_value
        out["fraction_of_peak"] = out["effective_gflops"]["value"] / peak_value
        out["peak_source"] = f"inferperf doctor (cached {label.upper()} matmul peak; the run executed {executed})"
    else:
        out["fraction_of_peak"] = None
        out["peak_source"] = (
            f"no {label.upper()} peak measured: run 'inferperf doctor' once to measure this machine's peak"
        )
    return out


_MAX_DATA_SETS = 64  # rotating this many real batches defeats caches; more only costs memory


def _dataset_sets(info_: ModelInfo, data: str | Path, batch: int) -> list[dict[str, Any]]:
    from inferperf.inputs.dataset import load_dataset

    return load_dataset(data, info_).batches(batch)[:_MAX_DATA_SETS]


def _header(kind: str, plugin: Backend) -> dict[str, Any]:
    """Schema tag, kind, time and environment (with the backend's versions) of a result document."""
    environment = collect_environment()
    environment["versions"].update(plugin.versions())
    return {"schema": SCHEMA, "kind": kind, "created": _created(), "environment": environment}


def _created() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def flops(model: str | Path, shape: str | None = None, batch: int = 1) -> dict[str, Any]:
    """Parameters and MACs per inference at the given shape."""
    info_ = load_model_info(model)
    shapes = resolve_shapes(info_, parse_shape_spec(shape), batch)
    count, source = _count(info_, shapes)
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
    preprocess: dict[str, Any] | None = None,
    config: RuntimeConfig | None = None,
) -> dict[str, Any]:
    """Top-1 (and top-5 with more than five classes) over labelled data, as a result document."""
    from inferperf.inputs.dataset import load_dataset, model_preprocess, override
    from inferperf.optimize.accuracy import evaluate

    plugin = get_backend(backend)
    info_ = load_model_info(model)
    spec = override(model_preprocess(info_), **(preprocess or {}))
    dataset = load_dataset(data, info_, spec)
    cfg = plugin.configure((config or RuntimeConfig()).with_(backend=plugin.name), "latency")
    report = evaluate(plugin, info_, dataset, cfg, batch)
    return {
        **_header("accuracy", plugin),
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


def zoo_export(
    name: str,
    *,
    fmt: str = "onnx",
    batch: str | int = "dynamic",
    out: str | Path | None = None,
    dynamic_axes: bool = False,
) -> Path:
    """Export a zoo model (or reuse the cached export); returns its path."""
    from inferperf.model import zoo

    return zoo.export(name, fmt=fmt, batch=batch, out=out, dynamic_axes=dynamic_axes)


def doctor(measure_peak: bool = True) -> dict[str, Any]:
    """Installed runtimes, CPU facts, measured peaks and noise; caches the peak for bench."""
    from inferperf import diagnose as doc_mod
    from inferperf.measure.peak import PEAK_PROBE_VERSION, peak_cache_path

    doc = doc_mod.doctor(measure_peak=measure_peak)
    doc["created"] = _created()
    if measure_peak and doc["peak"].get("fp32_peak_gflops"):
        save_json(
            {
                **doc["peak"],
                "probe": PEAK_PROBE_VERSION,
                "cpu_model": doc["environment"]["cpu"]["model"],
                "versions": _runtime_versions(doc["environment"]),
                "created": doc["created"],
            },
            peak_cache_path(),
        )
    return doc


def coldstart(
    model: str | Path = "builtin",
    *,
    backend: str = "openvino",
    runs: int = 5,
    cache_dir: str | Path | None = None,
    shape: str | None = None,
    config: RuntimeConfig | None = None,
    timeout_s: float = 300.0,
    progress: Callable[[str], None] | None = None,
    shapes: GuardStream | None = None,
) -> dict[str, Any]:
    """First-inference latency in fresh processes, per start-up variant, as a result document.

    With ``shapes`` the engine keeps the varying dims open, and each run also meets one shape of
    every group for the first time: the first inference at each against the second.
    """
    from inferperf.measure.coldstart import build_variants, run_coldstart, speedups
    from inferperf.measure.dynamic import plan_stream

    if runs < 1:
        raise ConfigError(f"invalid --runs {runs}: must be at least 1")
    plugin = get_backend(backend)
    info_ = load_model_info(model)
    cfg = plugin.configure((config or RuntimeConfig()).with_(backend=plugin.name), "latency")
    inputs = record = None
    if shapes is not None:
        if shape is not None:
            raise ConfigError("--shapes and --shape both set the shapes: give one")
        plan = plan_stream(info_, shapes.text, stream=shapes.stream, seed=shapes.seed, histogram=shapes.histogram)
        fixed = plan.largest
        spec = {"text": shapes.text, "histogram": str(shapes.histogram) if shapes.histogram else None}
        inputs = {"shapes": {**spec, "stream": shapes.stream}, "seed": shapes.seed}
        record = {"spec": shapes.text, "source": plan.source, "count": shapes.stream, "seed": shapes.seed}
        record["groups"] = list(plan.per_group())
    else:
        fixed = resolve_shapes(info_, parse_shape_spec(shape), cfg.batch)
        check_inputs_fit(info_, fixed, 1)
    variants, lacks = build_variants(plugin, cfg, str(cache_dir) if cache_dir else None)
    run_coldstart(plugin, info_, fixed, variants, runs, timeout_s, progress, inputs)
    return {
        **_header("coldstart", plugin),
        **({"shapes": record} if record else {}),
        "model": {**info_.to_dict(), "shapes": {k: list(v) for k, v in fixed.items()}},
        "backend": plugin.name,
        "runs_per_variant": runs,
        "variants": [v.summary() for v in variants],
        "cache_speedup": speedups(variants),
        "cache_speedup_other_routes": {
            v.cache_pair: speedups(variants, v.cache_pair) for v in variants if v.cache_pair not in ("", "memory")
        },
        "runtime_lacks": lacks,
        "ci_method": "order-statistic binomial interval of the median over runs; ratios by percentile bootstrap",
    }


def memory(
    model: str | Path = "builtin",
    *,
    backend: str = "openvino",
    variants: Sequence[str | Path] = (),
    batches: Sequence[int] = (),
    shape: str | None = None,
    config: RuntimeConfig | None = None,
    steady_s: float = 3.0,
    leak_iterations: int = 1000,
    timeout_s: float = 600.0,
    progress: Callable[[str], None] | None = None,
    shapes: GuardStream | None = None,
) -> dict[str, Any]:
    """Memory per phase for each configuration that changes it, each in a fresh process.

    With ``shapes`` every worker runs one open-dims engine over the seeded shape stream: a pass that
    meets each shape first, steady state over the stream, and the leak check cycling it.
    """
    import psutil

    from inferperf.measure.dynamic import plan_stream
    from inferperf.measure.memory import run_memory, sweep_configs

    plugin = get_backend(backend)
    models = [load_model_info(model), *(load_model_info(v) for v in variants)]
    base = (config or RuntimeConfig()).with_(backend=plugin.name)
    cores = psutil.cpu_count(logical=False) or 1
    stream = None
    record = None
    if shapes is not None:
        if shape is not None or batches:
            raise ConfigError("--shapes sets every input's shape: leave out --shape and --batches")
        plans = [
            plan_stream(m, shapes.text, stream=shapes.stream, seed=shapes.seed, histogram=shapes.histogram)
            for m in models
        ]
        spec = {"text": shapes.text, "histogram": str(shapes.histogram) if shapes.histogram else None}
        stream = ({**spec, "stream": shapes.stream}, [p.largest for p in plans])
        record = {"spec": shapes.text, "source": plans[0].source, "count": shapes.stream, "seed": shapes.seed}
        record["samples_per_group"] = plans[0].per_group()
    configs = sweep_configs(plugin, base, cores, list(batches))
    rows = run_memory(
        plugin,
        models,
        parse_shape_spec(shape),
        configs,
        steady_s=steady_s,
        leak_iterations=leak_iterations,
        timeout_s=timeout_s,
        progress=progress,
        stream=stream,
    )
    return {
        **_header("memory", plugin),
        "model": models[0].to_dict(),
        "variants": [m.to_dict() for m in models[1:]],
        "backend": plugin.name,
        **({"shapes": record} if record else {}),
        "rows": rows,
        "method": "VmRSS samples between phases; peaks from VmHWM reset via /proc/self/clear_refs before each phase",
    }


def quantize(
    model: str | Path = "builtin",
    *,
    backend: str = "openvino",
    data: str | Path | None = None,
    max_drop: float = 0.01,
    out: str | Path | None = None,
    options: QuantizeOptions | None = None,
    shape: str | None = None,
    rounds: int = 3,
    seconds: float = 5.0,
    warn: Callable[[str], None] | None = None,
    shapes: GuardStream | None = None,
    config: RuntimeConfig | None = None,
) -> dict[str, Any]:
    """INT8 quantization guarded by accuracy (or output fidelity), with an interleaved speed check.

    ``config`` is the runtime config of the float reference and of the candidates (its precision,
    read back, is named in ``fp32.executed_precision``).

    With ``shapes``, calibration and guard inputs are drawn from the shape distribution, and the
    speed check runs FP32 and INT8 on its stream with the varying dims open.
    """
    from inferperf.inputs.dataset import Dataset, load_dataset
    from inferperf.optimize.prune import precision_support
    from inferperf.optimize.quantize import Split, quantize_model

    plugin = get_backend(backend)
    info_ = load_model_info(model)
    source = data if data is not None else ("builtin" if str(model) == "builtin" else None)
    dataset: Dataset | Split
    if shapes is not None:
        subset = (options or QuantizeOptions()).subset_size
        dataset = _guard_stream(info_, shapes, data, shape, min(subset, SYNTHETIC_CALIBRATION), warn)
    elif source is not None:
        dataset = load_dataset(source, info_)
    else:
        fixed = resolve_shapes(info_, parse_shape_spec(shape), 1)
        sets = build_input_sets(info_, fixed, sets=128, seed=0)
        dataset = Dataset({k: np.concatenate([s[k] for s in sets]) for k in sets[0]}, None, "synthetic inputs")
        if warn is not None:
            warn(
                "no --data: calibrating on SYNTHETIC inputs; accuracy cannot be checked, only output fidelity "
                "against FP32 on other synthetic inputs. Pass --data for a real guard."
            )
    # By default the INT8 model lands in the working folder (never inside the package or the zoo cache).
    target = Path(out) if out else Path.cwd() / f"{info_.path.stem}-int8{info_.path.suffix}"
    if target.resolve() in {f.resolve() for f in info_.files}:
        raise ConfigError(f"--out {target} would overwrite the FP32 model")
    opts = replace(options or QuantizeOptions(), max_drop=max_drop)
    fields = quantize_model(
        plugin,
        info_,
        dataset,
        opts,
        max_drop=max_drop,
        out=target,
        rounds=rounds,
        seconds=seconds,
        synthetic=shapes is not None or source is None,
        config=config,
    )
    support = precision_support("int8", collect_environment()["cpu"]["features"])
    for row in fields["candidates"]:
        row["details"]["support"] = support  # says why INT8 may not pay off on this CPU
    return {**_header("quantize", plugin), "model": info_.to_dict(), "backend": plugin.name, **fields}


SYNTHETIC_CALIBRATION = 64  # synthetic calibration inputs, with or without --shapes (half of 128 drawn)


@dataclass(frozen=True)
class GuardStream:
    """``--shapes`` for the optimizations: the distribution, and how many held-out inputs to draw."""

    text: str
    histogram: str | Path | None = None
    stream: int = 32
    seed: int = 0


def _guard_stream(
    info_: ModelInfo,
    spec: GuardStream,
    data: str | Path | None,
    shape: str | None,
    calibration: int,
    warn: Callable[[str], None] | None,
) -> Any:
    """A split whose calibration and held-out inputs are synthetic, at the shapes of the distribution."""
    from inferperf.optimize.quantize import stream_split

    if data is not None:
        raise ConfigError("--shapes draws synthetic inputs at the distribution's shapes: leave out --data")
    if shape is not None:
        raise ConfigError("--shapes and --shape both set the shapes: give one")
    split = stream_split(
        info_, spec.text, calibration=calibration, held_out=spec.stream, seed=spec.seed, histogram=spec.histogram
    )
    if warn is not None:
        warn(
            "--shapes: judging on SYNTHETIC inputs drawn at the distribution's shapes; accuracy cannot be "
            "checked, only output fidelity against FP32, per shape group."
        )
    return split


def _guard_data(
    info_: ModelInfo, model: str | Path, data: str | Path | None, shape: str | None, warn: Callable[[str], None] | None
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
            "no --data: judging on SYNTHETIC inputs; accuracy cannot be checked, only output fidelity "
            "against FP32. Pass --data for a real guard."
        )
    return Dataset({k: np.concatenate([s[k] for s in sets]) for k in sets[0]}, None, "synthetic inputs"), True


def prune(
    model: str | Path = "builtin",
    *,
    sparsity: float = 0.5,
    backend: str = "openvino",
    data: str | Path | None = None,
    max_drop: float = 0.01,
    out: str | Path | None = None,
    shape: str | None = None,
    rounds: int = 3,
    seconds: float = 5.0,
    warn: Callable[[str], None] | None = None,
    shapes: GuardStream | None = None,
    config: RuntimeConfig | None = None,
) -> dict[str, Any]:
    """Magnitude sparsity on weights, judged for accuracy and re-measured side by side."""
    import tempfile

    from inferperf.optimize.prune import sparsify
    from inferperf.optimize.quantize import Candidate, judge, split_data

    plugin = get_backend(backend)
    info_ = load_model_info(model)
    target = Path(out) if out else Path.cwd() / f"{info_.path.stem}-sparse{int(sparsity * 100)}.onnx"
    if target.resolve() in {f.resolve() for f in info_.files}:
        raise ConfigError(f"--out {target} would overwrite the original model")
    sparse_props = plugin.sparse_weight_properties(sparsity)
    # Calibration samples are needed only for the INT8 sparse variant; the guard keeps the rest.
    if shapes is not None:
        split = _guard_stream(info_, shapes, data, shape, SYNTHETIC_CALIBRATION if sparse_props else 0, warn)
        data_record = {"source": "shape stream (synthetic inputs)", "synthetic": True}
    else:
        dataset, synthetic = _guard_data(info_, model, data, shape, warn)
        split = split_data(dataset, 300 if sparse_props else 0)
        data_record = {"source": dataset.source, "synthetic": synthetic}
    with tempfile.TemporaryDirectory(prefix="inferperf-prune-") as tmp:
        pruned = Path(tmp) / target.name
        details = sparsify(info_, sparsity, pruned)
        cands = [Candidate(pruned, f"magnitude sparsity {sparsity:.0%}", details)]
        if sparse_props:
            cands += _sparse_int8(plugin, load_model_info(pruned), split, Path(tmp), sparse_props, details)
        fields = judge(
            plugin, info_, split, cands, max_drop=max_drop, out=target, rounds=rounds, seconds=seconds, config=config
        )
    row = fields["candidates"][0]
    if row.get("accepted") and not row.get("significant_speedup"):
        row["note"] = "no significant speed-up: the runtime's dense kernels do not skip zero weights"
    _compare_sparse(fields["candidates"])
    return {
        **_header("prune", plugin),
        "model": info_.to_dict(),
        "backend": plugin.name,
        "data": data_record,
        **fields,
    }


def _sparse_int8(
    plugin: Backend, pruned: ModelInfo, split: Any, tmp: Path, props: dict[str, str], details: dict[str, Any]
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


def _compare_sparse(rows: list[dict[str, Any]]) -> None:
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


def precision(
    model: str | Path = "builtin",
    *,
    precisions: Sequence[str] = ("bf16", "f16"),
    backend: str = "openvino",
    data: str | Path | None = None,
    max_drop: float = 0.01,
    shape: str | None = None,
    rounds: int = 3,
    seconds: float = 5.0,
    warn: Callable[[str], None] | None = None,
    shapes: GuardStream | None = None,
    config: RuntimeConfig | None = None,
) -> dict[str, Any]:
    """Inference-precision hints (bf16, f16) against f32: accuracy, speed, and native support on this CPU."""
    from inferperf.optimize.prune import precision_support
    from inferperf.optimize.quantize import Candidate, judge, split_data

    plugin = get_backend(backend)
    info_ = load_model_info(model)
    if shapes is not None:
        split = _guard_stream(info_, shapes, data, shape, 0, warn)
        data_record = {"source": "shape stream (synthetic inputs)", "synthetic": True}
    else:
        dataset, synthetic = _guard_data(info_, model, data, shape, warn)
        split = split_data(dataset, 0)
        data_record = {"source": dataset.source, "synthetic": synthetic}
    features = collect_environment()["cpu"]["features"]
    candidates = []
    for p in precisions:
        RuntimeConfig(inference_precision=p)  # validates the name
        support = precision_support(p, features)
        candidates.append(
            Candidate(info_.path, f"inference precision {p}", {"support": support}, {"inference_precision": p})
        )
    if config is not None and config.inference_precision not in (None, "f32"):
        raise ConfigError("precision compares each --precision against f32: leave inference_precision out of --config")
    # The reference is pinned to f32: on a bf16-default CPU an unpinned "f32" reference would run bf16.
    reference = (config or RuntimeConfig()).with_(inference_precision="f32")
    fields = judge(
        plugin, info_, split, candidates, max_drop=max_drop, out=None, rounds=rounds, seconds=seconds, config=reference
    )
    for row, p in zip(fields["candidates"], precisions, strict=True):
        # Say plainly what ran: a CPU plug-in may accept the hint and still compute in f32.
        reported = row.get("effective", {}).get("INFERENCE_PRECISION_HINT")
        row["details"]["runtime_reports"] = reported
        if reported is not None and reported != p:
            row["details"]["support"] += f"; the runtime reports INFERENCE_PRECISION_HINT={reported}, not {p}"
    return {
        **_header("precision", plugin),
        "model": info_.to_dict(),
        "backend": plugin.name,
        "data": data_record,
        **fields,
    }


def tune(
    model: str | Path = "builtin",
    *,
    backends: Sequence[str] = ("openvino",),
    variants: Sequence[str | Path] = (),
    options: TuneOptions | None = None,
    config: RuntimeConfig | None = None,
    shape: str | None = None,
    inputs: str | Path | None = None,
    int_range: tuple[int, int] | None = None,
    input_values: dict[str, float] | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
    shapes: str | None = None,
    histogram: str | Path | None = None,
    data: str | Path | None = None,
    stream: int = 32,
) -> dict[str, Any]:
    """Search the runtime knobs (and model variants) under latency and memory budgets; verify the winner.

    Returns a result document; ``recommendation.runtime`` is what ``bench --config`` reads back.
    The reference is the first backend's own defaults for the scenario on the first model.
    With ``shapes`` (the ``--shapes`` grammar) every trial runs one engine with the varying dims open
    over the same seeded stream of ``stream`` inputs, so the objective is that of the distribution.
    """
    from inferperf.optimize.tuner import Target, Tuner, build_targets

    options = options or TuneOptions()
    scenario = "throughput" if options.objective == "throughput" else "latency"
    plugins = [get_backend(name) for name in backends]
    infos = [("model", load_model_info(model))]
    for path in variants:
        infos.append((Path(str(path)).stem, load_model_info(path)))
    environment = collect_environment()
    cpu = environment["cpu"]
    targets, skipped = build_targets(plugins, infos, scenario, int(cpu["cores"] or 1), cpu["features"])
    if not targets:
        raise ConfigError("nothing to tune: " + "; ".join(skipped))
    base = config or RuntimeConfig()
    spec: dict[str, Any] = {
        "shape": shape,
        "npz": str(inputs) if inputs else None,
        "int_range": int_range,
        "values": input_values,
        "seed": seed,
    }
    stream_doc = None
    if shapes is not None:
        targets, spec["shapes"], stream_doc = _tune_stream(targets, infos, base, spec, shapes, histogram, data, stream)
        skipped.append("batch knob: with --shapes each input's shape comes from the stream")
    else:
        targets, reason = _batch_knob(targets, infos, base, spec)
        if reason:
            skipped.append(f"batch knob: {reason}")
    ref = targets[0]
    reference = Target(ref.backend, ref.variant, ref.info, (), name=f"reference ({ref.backend} {scenario} defaults)")
    tuner = Tuner(targets, reference, base, options, scenario, spec)

    def doc(body: dict[str, Any]) -> dict[str, Any]:
        extra = {"shapes": stream_doc} if stream_doc else {}
        return {
            **_header("tune", plugins[0]),
            "model": infos[0][1].to_dict(),
            "skipped_targets": skipped,
            **extra,
            **body,
        }

    result = tuner.run(progress, (lambda body: checkpoint(doc(body))) if checkpoint else None)
    return doc(result.to_dict())


def _batch_knob(
    targets: list[Any], infos: list[tuple[str, ModelInfo]], base: RuntimeConfig, spec: dict[str, Any]
) -> tuple[list[Any], str | None]:
    """The targets, without the batch knob where the batch dim cannot change; and why it was dropped.

    Given shapes or an inputs file fix every input's dim 0: a trial at another batch would feed the
    same tensors and count items that never ran (or be refused), so the knob is not searched. The
    shapes are resolved here once, so a batch in ``base`` that conflicts with them is a one-line error.
    """
    from inferperf.optimize.tuner import Target

    if spec["npz"] is not None:
        reason = "the inputs file fixes every input's shape; batch is not searched"
    elif spec["shape"] is not None:
        fed = {
            reconcile_batch(i, resolve_shapes(i, parse_shape_spec(spec["shape"]), base.batch), base.batch)
            for _, i in infos
        }
        reason = f"the given shape fixes the batch dim to {', '.join(map(str, sorted(fed)))}; batch is not searched"
    else:
        return targets, None
    kept = [Target(t.backend, t.variant, t.info, tuple(k for k in t.knobs if k.name != "batch")) for t in targets]
    return kept, reason


def _stream_spec(
    infos: Sequence[ModelInfo],
    shapes: str,
    histogram: str | Path | None,
    data: str | Path | None,
    stream: int,
    seed: int,
) -> tuple[dict[str, Any], tuple[Any, dict[str, Any]]]:
    """``--shapes`` checked here, where errors are one line: the spec a worker redraws the stream from,
    the stream (on the first model) and its record for the result."""
    from inferperf.measure.dynamic import plan_stream

    if data is not None and shapes.strip() != "data":
        raise ConfigError("with --shapes, --data is only a source of sizes: use --shapes data")
    plans = [plan_stream(i, shapes, stream=stream, seed=seed, histogram=histogram, data=data) for i in infos]
    spec = {
        "text": shapes,
        "histogram": str(histogram) if histogram else None,
        "data": str(data) if data else None,
        "stream": stream,
    }
    record = {
        "spec": shapes,
        "source": plans[0].source,
        "count": stream,
        "seed": seed,
        "samples_per_group": plans[0].per_group(),
    }
    return spec, (plans[0], record)


def _tune_stream(
    targets: list[Any],
    infos: list[tuple[str, ModelInfo]],
    base: RuntimeConfig,
    spec: dict[str, Any],
    shapes: str,
    histogram: str | Path | None,
    data: str | Path | None,
    stream: int,
) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """The tuner's targets without the batch knob, and the stream for its workers."""
    from inferperf.optimize.tuner import Target

    if spec["shape"] is not None or spec["npz"] is not None or spec["values"]:
        raise ConfigError("--shapes sets the shapes and draws the inputs: leave out --shape, --inputs and --input")
    if base.batch != 1:
        raise ConfigError("--shapes gives every input its own shape: --batch is not supported with it")
    stream_spec, (_, record) = _stream_spec([i for _, i in infos], shapes, histogram, data, stream, int(spec["seed"]))
    kept = [Target(t.backend, t.variant, t.info, tuple(k for k in t.knobs if k.name != "batch")) for t in targets]
    return kept, stream_spec, record


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
) -> dict[str, Any]:
    """Per-layer profile (times, op types, precisions, findings); with ``compare_with``, two models side by side.

    Layer counters come from the backend (OpenVINO PERF_COUNT, ONNX Runtime's profiler) over many
    inferences; two models are profiled interleaved. ``reference_s`` > 0 also measures a latency-mode
    median with the counters off, to show what the layer sum leaves out and what profiling costs.
    """
    from inferperf.measure.profile import ProfileLimits, collect, compare_profiles, summarize_run

    plugin = get_backend(backend)
    cfg = plugin.configure((config or RuntimeConfig()).with_(backend=plugin.name), "latency")
    infos = [load_model_info(model)] + ([load_model_info(compare_with)] if compare_with is not None else [])
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
    return {
        **_header("profile-compare", plugin),
        "backend": plugin.name,
        "a": docs[0],
        "b": docs[1],
        "comparison": compare_profiles(docs[0]["profile"], docs[1]["profile"]),
    }


def profile_shapes(
    model: str | Path,
    shapes: str,
    *,
    backend: str = "openvino",
    config: RuntimeConfig | None = None,
    seconds: float = 5.0,
    warmup_s: float = 1.0,
    seed: int = 0,
    int_range: tuple[int, int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Per-layer profile of each fixed shape group (``--shapes`` grammar), and how each op type's time
    grows with the input across the groups (which layers scale worse than the input)."""
    from inferperf.inputs.distribution import resolve_shapes_option
    from inferperf.measure.profile import ProfileLimits, collect, shape_scaling, summarize_run

    plugin = get_backend(backend)
    cfg = plugin.configure((config or RuntimeConfig()).with_(backend=plugin.name), "latency")
    info_ = load_model_info(model)
    groups, source = resolve_shapes_option(info_, shapes, batch=cfg.batch)
    ranged = [g.label for g in groups if g.variables]
    if ranged:
        raise ConfigError(
            f"profile --shapes takes fixed groups, like 'input_ids[1,32];input_ids[1,512]': {ranged[0]} is a range"
        )
    limits = ProfileLimits(seconds=seconds, warmup_s=warmup_s)
    out = []
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
    return {
        **_header("profile-shapes", plugin),
        "model": info_.to_dict(),
        "backend": plugin.name,
        "config": cfg.to_dict(),
        "shapes": {"spec": shapes, "source": source},
        "limits": {"seconds": seconds, "warmup_s": warmup_s},
        "groups": out,
        "scaling": shape_scaling(out),
    }


def _profile_doc(
    plugin: Backend,
    info_: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    cfg: RuntimeConfig,
    summary: dict[str, Any],
    input_sets: Sequence[dict[str, Any]],
    reference_s: float,
    budget: dict[str, float],
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    """One model's profile document: summary, counters-off reference latency, findings."""
    from inferperf.measure.profile import reference_gap
    from inferperf.optimize.findings import ModelFacts, diagnose

    reference: dict[str, Any] | None = None
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
    return {
        **_header("profile", plugin),
        "model": {**info_.to_dict(), "shapes": {k: list(v) for k, v in shapes.items()}},
        "backend": plugin.name,
        "config": cfg.to_dict(),
        "limits": budget,
        "profile": summary,
        "reference": reference,
        "findings": [f.to_dict() for f in diagnose(summary, facts)],
    }


def e2e(
    model: str | Path = "builtin",
    *,
    images: str | Path | None = None,
    data: str | Path | None = None,
    backend: str = "openvino",
    decoder: str = "pillow",
    preprocess: dict[str, Any] | None = None,
    config: RuntimeConfig | None = None,
    options: Any = None,
    fuse: bool = True,
    save_fused: str | Path | None = None,
    postprocess: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """End to end on real images: stages apart, sequential vs pipelined, host vs fused pre-processing.

    ``options`` is a ``measure.e2e.E2EOptions``; ``postprocess`` a ``measure.e2e.Postprocessor``
    (default: softmax + top-k for a [batch, classes] output).
    """
    import tempfile

    from inferperf.inputs.dataset import _image_input, model_preprocess, override
    from inferperf.measure.e2e import E2EOptions, E2ETarget, get_decoder, load_items, run_e2e
    from inferperf.optimize.preprocess import FusionPlan, fuse_model

    plugin = get_backend(backend)
    info_ = load_model_info(model)
    spec = override(model_preprocess(info_), **(preprocess or {}))
    name, size = _image_input(info_, spec)
    channels = 1 if spec.color == "GRAY" else 3
    shape = (1, channels, *size) if spec.layout == "NCHW" else (1, *size, channels)
    target = E2ETarget(info_, name, shape, info_.input(name).dtype, spec, size)
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
        fields = run_e2e(
            plugin,
            target,
            items,
            dec,
            config or RuntimeConfig(),
            options or E2EOptions(),
            fused_info,
            postprocess,
            progress,
        )
    if fusion is not None and "fused" in fields:
        fields["fused"] = {"model": {**fusion, "saved": save_fused is not None}, **fields["fused"]}
    return {
        **_header("e2e", plugin),
        "model": {**info_.to_dict(), "input": name, "shape": list(shape)},
        "backend": plugin.name,
        "decoder": dec.name,
        "inputs": {"source": source, "count": len(items)},
        "preprocess": {**spec.to_dict(), "size": list(size), "resize": f"{dec.name} bilinear"},
        **fields,
    }


def compare(a: str | Path, b: str | Path, *, threshold: float = 0.02) -> dict[str, Any]:
    """B against A, from two bench result files: per run and metric, ratio B/A, 95% interval, verdict."""
    from inferperf.report.compare import compare_docs
    from inferperf.results.schema import load_document

    doc_a, doc_b = load_document(a), load_document(b)
    body = compare_docs(doc_a, doc_b, threshold)
    return {
        "schema": SCHEMA,
        "kind": "compare",
        "created": _created(),
        "a": {"path": str(a), "model": doc_a.get("model", {}).get("path"), "created": doc_a.get("created")},
        "b": {"path": str(b), "model": doc_b.get("model", {}).get("path"), "created": doc_b.get("created")},
        "threshold_given": threshold,
        **body,
    }


def _config_candidate(path: str | Path, model: str | Path | None, scenario: str) -> dict[str, Any]:
    import json

    from inferperf.config import load_config_file

    runtime, _ = load_config_file(path)
    try:
        named = json.loads(Path(path).read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):
        named = None
    cfg = RuntimeConfig.from_dict(runtime)
    plugin = get_backend(cfg.backend)
    info_ = load_model_info(model or named or "builtin")
    return {"backend": plugin.name, "model_info": info_.to_dict(), "config": cfg.to_dict()}


def compare_interleaved(
    a: str | Path,
    b: str | Path,
    *,
    model: str | Path | None = None,
    scenario: str = "throughput",
    rounds: int = 8,
    seconds: float = 3.0,
    threshold: float = 0.02,
    timeout_s: float = 1800.0,
    shapes: str | None = None,
    histogram: str | Path | None = None,
    data: str | Path | None = None,
    stream: int = 100,
    int_range: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Two config files measured A B A B ... in one worker; per-round paired ratios B/A with verdicts.

    With ``shapes`` both run one engine with the varying dims open over the same seeded shape stream.
    """
    from inferperf.measure.worker import run_worker
    from inferperf.report.compare import compare_rounds

    if scenario not in ("latency", "throughput"):
        raise ConfigError(f"invalid scenario {scenario!r}: expected latency or throughput")
    if rounds < 2:
        raise ConfigError(f"invalid --rounds {rounds}: at least 2 are needed for an interval")
    cands = [_config_candidate(p, model, scenario) for p in (a, b)]
    inputs: dict[str, Any] = {"seed": 0, "int_range": list(int_range) if int_range else None}
    record = None
    if shapes is not None:
        infos = [ModelInfo.from_dict(c["model_info"]) for c in cands]
        inputs["shapes"], (_, record) = _stream_spec(infos, shapes, histogram, data, stream, 0)
    job = {
        "task": "interleave",
        "scenario": scenario,
        "rounds": rounds,
        "seconds": seconds,
        "inputs": inputs,
        "candidates": cands,
    }
    result = run_worker(job, timeout_s)
    if not result.ok:
        raise BackendError(f"interleaved measurement failed: {result.error}")
    per = result.data["candidates"]
    rounds_of = [
        {"throughput_fps": c["throughput_fps_per_round"], "latency_median_ms": c["median_ms_per_round"]} for c in per
    ]
    body = compare_rounds(rounds_of[0], rounds_of[1], threshold)
    return {
        "schema": SCHEMA,
        "kind": "compare",
        "created": _created(),
        "environment": collect_environment(),
        "a": {"config": str(a), **cands[0]["config"]},
        "b": {"config": str(b), **cands[1]["config"]},
        "model": cands[0]["model_info"],
        "rounds": rounds,
        "seconds_per_round": seconds,
        "threshold": threshold,
        **({"shapes": record} if record else {}),
        "raw": per,
        **body,
    }


def optimize(
    model: str | Path = "builtin",
    *,
    options: OptimizeOptions | None = None,
    out: str | Path = "inferperf-optimize",
    status: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """The whole flow: measure, quantize, tune, verify against the baseline, report. Returns the result document.

    Every step's result is written to ``out`` as it finishes; on Ctrl-C the summary and the
    report are written from the finished steps and KeyboardInterrupt is raised again.
    """
    from inferperf.optimize.pipeline import Pipeline, result_document
    from inferperf.report.optimize_report import write_reports

    options = options or OptimizeOptions()
    for name in options.backends:
        get_backend(name)  # fail fast, before minutes of work
    info_ = load_model_info(model)
    if options.shapes is not None:
        from inferperf.measure.dynamic import plan_stream

        # Bad --shapes is one line now, not a failure inside every step later.
        plan_stream(info_, options.shapes, stream=options.stream, seed=0, histogram=options.shape_histogram)
    out_dir = Path(out)
    pipeline = Pipeline(model, out_dir, options, status)
    try:
        pipeline.run()
    finally:
        artifacts = pipeline.copy_artifacts()
        doc = result_document(pipeline, artifacts)
        step_docs = {s.name: s.doc for s in pipeline.steps if s.doc is not None}
        doc["artifacts"].update(write_reports(doc, step_docs, out_dir))
        save_json(doc, out_dir / "optimize.json")
    return doc


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
    shapes: str | None = None,
    histogram: str | Path | None = None,
    stream: int = 100,
    int_range: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """An MLPerf LoadGen scenario (single-stream, multi-stream, server, offline) as a result document.

    ``options`` is a ``measure.loadgen.ScenarioOptions``. LoadGen's log files are kept under ``out``,
    where the result document is written too (``scenario.json``). ``shapes`` (the ``--shapes``
    grammar) makes the QSL a seeded stream of ``stream`` samples over those shapes, run on one
    engine with the varying dims open; latency is then also reported per shape group.
    """
    from inferperf.measure.loadgen import ScenarioOptions, ScenarioTarget, import_loadgen, run_scenario_test

    opts: ScenarioOptions = options or ScenarioOptions()
    import_loadgen()  # fail fast, with the install hint, before compiling anything
    plugin = get_backend(backend)
    info_ = load_model_info(model)
    config = (config or RuntimeConfig()).with_(backend=plugin.name)
    if config.batch != 1:
        raise ConfigError("a LoadGen sample is one inference of batch 1: --batch is not supported here")
    stream_doc: dict[str, Any] | None = None
    if shapes is not None:
        target, source, stream_doc = _scenario_stream(
            plugin, info_, config, opts, shape, inputs, shapes, histogram, data, (stream, seed), int_range
        )
        sets = list(target.input_sets)
    else:
        sets, labels, source = _scenario_inputs(info_, opts.accuracy, shape, inputs, data, (seed, int_range))
        fed = {k: tuple(v.shape) for k, v in sets[0].items()}
        if fed_batch(info_, fed) != 1:
            # LoadGen counts samples: a sample of batch 8 would be reported as one.
            raise ConfigError(
                f"a LoadGen sample is one inference of batch 1, the inputs hold batch {fed_batch(info_, fed)} "
                f"({', '.join(f'{k}{list(v)}' for k, v in fed.items())}): give dim 0 = 1"
            )
        target = ScenarioTarget(plugin, info_, fed, sets, config, labels)
    out_dir = Path(out)
    body = run_scenario_test(target, opts, out_dir, status)
    doc = {
        **_header("scenario", plugin),
        "model": {**info_.to_dict(), "shapes": {k: list(v) for k, v in target.shapes.items()}},
        "backend": plugin.name,
        "scenario": opts.scenario,
        "options": opts.to_dict(),
        "inputs": {"source": source, "count": len(sets)},
        **({"shapes": stream_doc} if stream_doc else {}),
        "out_dir": str(out_dir),
        **body,
    }
    save_json(doc, out_dir / "scenario.json")
    return doc


def _scenario_stream(
    plugin: Backend,
    info_: ModelInfo,
    config: RuntimeConfig,
    opts: Any,
    shape: str | None,
    inputs: str | Path | None,
    shapes: str,
    histogram: str | Path | None,
    data: str | Path | None,
    stream_seed: tuple[int, int],
    int_range: tuple[int, int] | None,
) -> tuple[Any, str, dict[str, Any]]:
    """The QSL as a seeded shape stream: samples, the open dims of its one engine, each sample's group."""
    from inferperf.inputs.distribution import bin_order
    from inferperf.measure.dynamic import stream_inputs
    from inferperf.measure.loadgen import SampleGroups, ScenarioTarget

    if opts.accuracy:
        raise ConfigError("--shapes draws synthetic inputs: LoadGen accuracy mode needs the labelled --data as is")
    if shape is not None or inputs is not None:
        raise ConfigError("--shapes sets the shapes itself: leave out --shape and --inputs")
    stream, seed = stream_seed
    plan, record = _stream_spec([info_], shapes, histogram, data, stream, seed)[1]
    sets = stream_inputs(info_, plan.items, seed, int_range)
    groups = SampleGroups([it.bin for it in plan.items], bin_order(plan.items))
    target = ScenarioTarget(plugin, info_, plan.largest, sets, config, ranges=plan.ranges, groups=groups)
    record["engine_dims"] = {n: [list(d) if isinstance(d, tuple) else d for d in v] for n, v in plan.ranges.items()}
    return target, f"synthetic shape stream (seed {seed})", record


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
        return _dataset_sets(info_, data, 1), None, str(data)
    seed, int_range = seed_range
    shapes = resolve_shapes(info_, parse_shape_spec(shape), 1)
    sets = build_input_sets(info_, shapes, npz=inputs, seed=seed, int_range=int_range)
    return sets, None, str(inputs) if inputs else f"synthetic (seed {seed})"


# ---------------------------------------------------------------- suite and history


def suite(options: Any = None, *, status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure a matrix of models x variants x backends, one cell at a time; returns the suite document.

    ``options`` is an ``inferperf.suite.SuiteOptions``. Each cell's bench result is written to
    ``OUT/cells/`` and recorded in the history as it finishes; with ``ray_address`` the cells run as
    Ray tasks on the cluster's nodes. On Ctrl-C the finished cells and reports stay and
    KeyboardInterrupt is raised again.
    """
    from inferperf.suite import Suite, SuiteOptions

    opts: SuiteOptions = options or SuiteOptions()
    runner = Suite(opts, status or (lambda _message: None))
    if opts.ray_address:
        from inferperf.suite.ray_runner import run_on_ray

        return run_on_ray(runner)
    return runner.run()


def history_record(doc: dict[str, Any], path: str | Path | None = None, source: str | None = None) -> int:
    """Record a result document in the history (default: $INFERPERF_HISTORY or the user data folder)."""
    from inferperf.results.history import record

    return record(doc, path, source)


def history_list(
    path: str | Path | None = None, *, kind: str | None = None, model: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Recorded results, newest first (summaries, not whole documents)."""
    from inferperf.results.history import History

    return History(path).entries(kind=kind, model=model, limit=limit)


def history_show(result_id: int, path: str | Path | None = None) -> dict[str, Any]:
    """One recorded result document, whole."""
    from inferperf.results.history import History

    return History(path).get(result_id)


def history_export(
    out: str | Path,
    path: str | Path | None = None,
    *,
    fmt: str = "jsonl",
    kind: str | None = None,
    model: str | None = None,
) -> int:
    """Write recorded results to ``out``: ``jsonl`` (whole documents) or ``csv`` (one line per run); the count."""
    import csv
    import io
    import json

    from inferperf.results.history import History
    from inferperf.results.schema import atomic_write_text

    store = History(path)
    if fmt == "jsonl":
        docs = list(store.documents(kind=kind, model=model))
        atomic_write_text("".join(json.dumps(d, default=str) + "\n" for d in docs), out)
        return len(docs)
    if fmt != "csv":
        raise ConfigError(f"invalid export format {fmt!r}: expected jsonl or csv")
    entries = list(reversed(store.entries(kind=kind, model=model, limit=2**62)))
    buf = io.StringIO()
    fields = ("backend", "scenario", "throughput_fps", "latency_median_ms", "latency_p99_ms", "config_hash")
    writer = csv.writer(buf)
    writer.writerow(("id", "recorded", "created", "kind", "model_path", "model_sha256", "machine", *fields))
    for e in entries:
        for run in e["summary"].get("runs") or [{}]:
            head = (e["id"], e["recorded"], e["created"], e["kind"], e["model_path"], e["model_sha256"], e["machine"])
            writer.writerow((*head, *(run.get(f, "") for f in fields)))
    atomic_write_text(buf.getvalue(), out)
    return len(entries)


def compare_against_history(
    result: str | Path, *, history: str | Path | None = None, threshold: float = 0.02
) -> dict[str, Any]:
    """A new bench result against the latest recorded one with the same model hash, config and machine.

    A is the recorded result, B the new one: ratios B/A, intervals and verdicts as ``compare``.
    """
    from inferperf.errors import ResultError
    from inferperf.report.compare import compare_docs
    from inferperf.results.history import History
    from inferperf.results.schema import load_document

    new = load_document(result)
    store = History(history)
    old = store.latest_matching(new)
    if old is None:
        raise ResultError(
            f"no earlier result in {store.path} matches {result} (same model hash, run config and machine)"
        )
    body = compare_docs(old, new, threshold)
    return {
        "schema": SCHEMA,
        "kind": "compare",
        "created": _created(),
        "a": {
            "history_id": old["history"]["id"],
            "history": str(store.path),
            "model": old.get("model", {}).get("path"),
            "created": old.get("created"),
        },
        "b": {"path": str(result), "model": new.get("model", {}).get("path"), "created": new.get("created")},
        "threshold_given": threshold,
        **body,
    }


def dynamic(
    model: str | Path,
    shapes: str,
    *,
    backend: str = "openvino",
    histogram: str | Path | None = None,
    data: str | Path | None = None,
    buckets: str | None = None,
    options: Any = None,
    config: RuntimeConfig | None = None,
    int_range: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """A dynamic-shape workload: per-group and overall results of each compile strategy on one seeded stream.

    ``options`` is a measure.dynamic.DynamicOptions (strategies, stream length, rounds, requests, seed).
    """
    from inferperf.inputs.distribution import draw_stream, parse_buckets, resolve_shapes_option
    from inferperf.measure.dynamic import DynamicOptions, run_dynamic

    opts: DynamicOptions = options or DynamicOptions()
    plugin = get_backend(backend)
    info_ = load_model_info(model)
    config = config or RuntimeConfig()
    groups, source = resolve_shapes_option(info_, shapes, batch=config.batch, histogram=histogram, data=data)
    edges = parse_buckets(buckets)
    items = draw_stream(groups, opts.stream, opts.seed, edges)
    if opts.requests == 1:
        config = plugin.configure(config, "latency")
    else:
        config = plugin.configure(config.with_(requests=opts.requests), "throughput")
    strategies = opts.strategies
    skipped = []
    if plugin.name != "openvino" and "bounded" in strategies:
        # Interval dimensions are an OpenVINO feature: said in the result, not silently dropped.
        strategies = tuple(s for s in strategies if s != "bounded")
        skipped.append({"name": "bounded", "reason": "interval dimensions are an OpenVINO feature"})
    if len(strategies) != len(opts.strategies):
        opts = replace(opts, strategies=strategies)
    body = run_dynamic(plugin, info_, items, groups, config.with_(backend=plugin.name), opts, int_range, progress)
    return {
        **_header("dynamic", plugin),
        "model": info_.to_dict(),
        "backend": plugin.name,
        "config": config.to_dict(),
        "shapes": {
            "source": source,
            "groups": [
                {
                    "label": g.label,
                    "weight": g.weight,
                    "dims": {n: list(d) for n, d in g.dims.items()},
                    "ranges": {k: [v.range.low, v.range.high] for k, v in g.variables.items()},
                    "histogram": {k: v.histogram.source for k, v in g.variables.items() if v.histogram},
                }
                for g in groups
            ],
        },
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
