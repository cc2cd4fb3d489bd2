"""Command line: parse once into typed configs, call the API, render, exit with a code.

Exit codes: 0 ok, 1 internal error, 2 user mistake, 3 runtime failure, 130 interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from inferperf import api
from inferperf.config import QuantizeOptions, RunLimits, RuntimeConfig, load_config_file
from inferperf.errors import ConfigError, InferperfError
from inferperf.inputs import parse_input_values, parse_int_range
from inferperf.report.console import (
    render_accuracy,
    render_bench,
    render_coldstart,
    render_doctor,
    render_info,
    render_memory,
    render_quantize,
    render_zoo,
)
from inferperf.results.schema import SCHEMA, save_json

app = typer.Typer(
    name="inferperf",
    help="Measure and improve how fast trained models run at inference time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _errors() -> Iterator[None]:
    """Turn inferperf errors into one line and an exit code; tracebacks only with --debug."""
    try:
        yield
    except InferperfError as exc:
        if _state["debug"]:
            raise
        err.print(f"[red]error:[/red] {escape(exc.one_line())}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if _state["debug"]:
            raise
        err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {escape(str(exc))} "
            "(rerun with --debug for the traceback)"
        )
        raise typer.Exit(1) from None


def _properties(items: list[str] | None) -> dict[str, str]:
    props: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad --property {item!r}: expected KEY=VALUE")
        props[key.strip()] = value.strip()
    return props


def _runtime(
    config_file: Path | None, precision: str | None, props: list[str] | None, **flags: Any
) -> RuntimeConfig | None:
    """The RuntimeConfig of --config, --infer-precision, --property (and any other flags given); None if none."""
    file_runtime, _ = load_config_file(config_file) if config_file else ({}, {})
    file_runtime.pop("backend", None)  # the command's --backend decides
    given = {"inference_precision": precision, "properties": _properties(props) or None, **flags}
    merged = _merge(file_runtime, given)
    return RuntimeConfig.from_dict(merged) if merged else None


def _floats(text: str | None, name: str, kind: type = float) -> tuple[Any, ...] | None:
    if text is None:
        return None
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"bad --{name} {text!r}: expected comma-separated numbers") from None


def _merge(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    # Options given on the command line win over the config file; unset ones (None) do not.
    return {**base, **{k: v for k, v in given.items() if v is not None}}


def _progress_factory(console: Console) -> tuple[Progress, Callable[[str], Callable[[float, str], None]]]:
    bar = Progress(
        TextColumn("[bold]{task.description:<26}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )

    def factory(label: str) -> Callable[[float, str], None]:
        task = bar.add_task(label, total=1.0, status="compiling")

        def update(fraction: float, status: str) -> None:
            bar.update(task, completed=fraction, status=status)

        return update

    return bar, factory


ModelArg = Annotated[str, typer.Argument(help="Model file (.onnx, .xml IR) or 'builtin'.")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the versioned result JSON here.")]
# The runtime options every command that compiles a model takes, declared once.
InferPrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--infer-precision",
        help="Float precision to execute: f32, bf16, f16 (default: the runtime's choice for this CPU; "
        "OpenVINO picks bf16 where the CPU has AMX or AVX-512 BF16).",
    ),
]
PropertyOpt = Annotated[list[str] | None, typer.Option("--property", help="Runtime property KEY=VALUE (repeatable).")]
ConfigFileOpt = Annotated[
    Path | None, typer.Option("--config", help="JSON runtime config (bench --config format); options here win.")
]
HistogramOpt = Annotated[
    Path | None, typer.Option(help="With --shapes: sizes of the ranged dim, CSV 'size,count' or JSON.")
]
StreamOpt = Annotated[int, typer.Option(help="With --shapes: inputs in the seeded shape stream.")]
GuardShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Judge on synthetic inputs drawn from a shape distribution, e.g. 'input_ids[1,16..512]': "
        "fidelity and speed per shape group, one open-dims engine per model.",
    ),
]
GuardStreamOpt = Annotated[
    int, typer.Option("--stream", help="With --shapes: held-out inputs, also the speed check's stream.")
]


def _guard_shapes(shapes: str | None, histogram: Path | None, stream: int) -> api.GuardStream | None:
    if shapes is None:
        if histogram is not None:
            raise ConfigError("--shape-histogram needs --shapes with a range")
        return None
    return api.GuardStream(shapes, histogram, stream)


@app.command()
def info(
    model: ModelArg = "builtin",
    shape: Annotated[str | None, typer.Option(help="Shape to count FLOPs at (fixes dynamic dims).")] = None,
    batch: Annotated[int, typer.Option(help="Batch size to count FLOPs at.")] = 1,
    json_path: JsonOpt = None,
) -> None:
    """Show format, inputs/outputs (dynamic dims marked), size, sha256, parameters and MACs."""
    with _errors():
        model_info = api.info(model)
        try:
            compute = api.flops(model_info.path, shape, batch)
        except InferperfError as exc:  # e.g. dynamic dims and no --shape: the facts above still stand
            compute = {"available": False, "reason": exc.one_line()}
        render_info(model_info, out, compute)
        if json_path:
            save_json({"schema": SCHEMA, "kind": "info", "model": model_info.to_dict(), "compute": compute}, json_path)


@app.command()
def accuracy(
    model: ModelArg = "builtin",
    data: Annotated[
        str, typer.Option(help="Image folder, .npz/.npy, or 'builtin' (built-in validation split).")
    ] = "builtin",
    backend: Annotated[str, typer.Option(help="openvino or onnxruntime.")] = "openvino",
    batch: Annotated[int, typer.Option(help="Batch size for evaluation.")] = 1,
    size: Annotated[str | None, typer.Option(help="Resize images to H,W.")] = None,
    mean: Annotated[str | None, typer.Option(help="Per-channel mean (pixel units), e.g. 123.7,116.3,103.5.")] = None,
    scale: Annotated[str | None, typer.Option(help="Per-channel scale (pixel units), e.g. 58.4,57.1,57.4.")] = None,
    layout: Annotated[str | None, typer.Option(help="NCHW or NHWC.")] = None,
    color: Annotated[str | None, typer.Option(help="RGB, BGR or GRAY.")] = None,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Top-1 (and top-5) accuracy over labelled data, with exact binomial 95% intervals."""
    with _errors():
        pre = {
            "size": _floats(size, "size", int),
            "mean": _floats(mean, "mean"),
            "scale": _floats(scale, "scale"),
            "layout": layout,
            "color": color,
        }
        runtime = _runtime(config, precision_hint, prop)
        doc = api.accuracy(model, data=data, backend=backend, batch=batch, preprocess=pre, config=runtime)
        render_accuracy(doc, out)
        if json_path:
            save_json(doc, json_path)


zoo_app = typer.Typer(help="Public architectures with random weights, built offline.", no_args_is_help=True)
app.add_typer(zoo_app, name="zoo")


@zoo_app.command("list")
def zoo_list() -> None:
    """List the zoo's architectures and whether an export is cached."""
    with _errors():
        render_zoo(api.zoo_list(), out)


@zoo_app.command("export")
def zoo_export(
    name: Annotated[str, typer.Argument(help="Zoo name, e.g. resnet50.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx or openvino.")] = "onnx",
    batch: Annotated[str, typer.Option(help="'dynamic' or a fixed batch size.")] = "dynamic",
    out_path: Annotated[Path | None, typer.Option("--out", help="Copy the export here.")] = None,
    dynamic_axes: Annotated[
        bool, typer.Option("--dynamic-axes", help="Also leave the sequence length open (same as zoo:NAME:dynamic).")
    ] = False,
) -> None:
    """Build a zoo model (cached) and print its path."""
    with _errors():
        path = api.zoo_export(name, fmt=fmt, batch=batch, out=out_path, dynamic_axes=dynamic_axes)
        out.print(str(path))


def _status_printer(label: str) -> tuple[Progress, Callable[[str], None]]:
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(label, total=None, status="")
    return bar, lambda status: bar.update(task, status=status)


@app.command()
def coldstart(
    model: ModelArg = "builtin",
    backend: Annotated[str, typer.Option(help="openvino or onnxruntime.")] = "openvino",
    runs: Annotated[int, typer.Option(help="Fresh processes per variant.")] = 5,
    cache_dir: Annotated[Path | None, typer.Option(help="Model cache folder: measures cold vs warm cache.")] = None,
    shape: Annotated[str | None, typer.Option(help="Static shape for dynamic inputs.")] = None,
    shapes: Annotated[
        str | None,
        typer.Option(
            help="Keep the varying dims open, e.g. 'input_ids[1,32];input_ids[1,512]': first inference at the "
            "smallest group, then the first and second inference at one shape of every other group."
        ),
    ] = None,
    shape_histogram: HistogramOpt = None,
    stream: Annotated[int, typer.Option(help="With --shapes: inputs drawn to find each group's shape.")] = 100,
    timeout: Annotated[float, typer.Option(help="Seconds before a worker is killed.")] = 300.0,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """First-inference latency (import, read, compile, first and second inference) in fresh processes."""
    with _errors():
        guard_stream = _guard_shapes(shapes, shape_histogram, stream)
        bar, status = _status_printer("coldstart")
        with bar:
            doc = api.coldstart(
                model,
                backend=backend,
                runs=runs,
                cache_dir=cache_dir,
                shape=shape,
                timeout_s=timeout,
                progress=status,
                shapes=guard_stream,
                config=_runtime(config, precision_hint, prop),
            )
        render_coldstart(doc, out)
        if json_path:
            save_json(doc, json_path)


@app.command()
def memory(
    model: ModelArg = "builtin",
    backend: Annotated[str, typer.Option(help="openvino or onnxruntime.")] = "openvino",
    variant: Annotated[list[str] | None, typer.Option(help="Another model file to compare (repeatable).")] = None,
    batches: Annotated[str | None, typer.Option(help="Batch sizes to sweep, e.g. 1,8.")] = None,
    shape: Annotated[str | None, typer.Option(help="Static shape for dynamic inputs.")] = None,
    steady: Annotated[float, typer.Option(help="Seconds of steady-state throughput per configuration.")] = 3.0,
    leak_iterations: Annotated[int, typer.Option(help="Inferences in the leak check (capped at 20 s).")] = 1000,
    timeout: Annotated[float, typer.Option(help="Seconds before a worker is killed.")] = 600.0,
    shapes: Annotated[
        str | None,
        typer.Option(
            help="Run one engine with open dims over a seeded shape stream, e.g. 'input_ids[1,16..512]': "
            "the memory new shapes add, then steady state and the leak check cycling the stream."
        ),
    ] = None,
    shape_histogram: HistogramOpt = None,
    stream: StreamOpt = 32,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Memory per phase (import, read, compile, first inference, steady state, leak) per configuration."""
    with _errors():
        guard_stream = _guard_shapes(shapes, shape_histogram, stream)
        sizes = [int(b) for b in _floats(batches, "batches", int) or ()]
        bar, status = _status_printer("memory")
        with bar:
            doc = api.memory(
                model,
                backend=backend,
                variants=variant or [],
                batches=sizes,
                shape=shape,
                steady_s=steady,
                leak_iterations=leak_iterations,
                timeout_s=timeout,
                progress=status,
                shapes=guard_stream,
                config=_runtime(config, precision_hint, prop),
            )
        render_memory(doc, out)
        if json_path:
            save_json(doc, json_path)


@app.command()
def quantize(
    model: ModelArg = "builtin",
    backend: Annotated[str, typer.Option(help="openvino (NNCF) or onnxruntime.")] = "openvino",
    data: Annotated[
        str | None, typer.Option(help="Calibration + held-out data (default: builtin for builtin).")
    ] = None,
    max_drop: Annotated[float, typer.Option(help="Largest accepted absolute top-1 drop (or agreement drop).")] = 0.01,
    out_path: Annotated[Path | None, typer.Option("--out", help="Where the accepted INT8 model goes.")] = None,
    method: Annotated[str, typer.Option(help="auto, static or dynamic (ORT, weights only).")] = "auto",
    preset: Annotated[str, typer.Option(help="NNCF preset: performance or mixed.")] = "performance",
    subset_size: Annotated[int, typer.Option(help="Calibration samples (at most half the data).")] = 300,
    transformer: Annotated[bool, typer.Option(help="Transformer model (NNCF model_type, ORT dynamic).")] = False,
    ignore: Annotated[list[str] | None, typer.Option(help="Node name to keep in FP32 (repeatable).")] = None,
    activations: Annotated[
        str, typer.Option(help="ORT static activations: auto (measure u8 and s8), u8, s8.")
    ] = "auto",
    accuracy_control: Annotated[
        bool, typer.Option("--accuracy-control/--no-accuracy-control", help="NNCF: also try accuracy control.")
    ] = True,
    shape: Annotated[str | None, typer.Option(help="Static shape for synthetic calibration inputs.")] = None,
    shapes: GuardShapesOpt = None,
    shape_histogram: HistogramOpt = None,
    stream: GuardStreamOpt = 32,
    rounds: Annotated[int, typer.Option(help="Interleaved FP32/INT8 speed rounds.")] = 3,
    seconds: Annotated[float, typer.Option(help="Seconds per speed run (without --shapes).")] = 5.0,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """INT8 quantization with an accuracy guard, measured side by side against FP32."""
    with _errors():
        guard_stream = _guard_shapes(shapes, shape_histogram, stream)
        options = QuantizeOptions(
            method=method,
            preset=preset,
            subset_size=subset_size,
            transformer=transformer,
            ignored=tuple(ignore or ()),
            activation_type=activations,
            accuracy_control=accuracy_control,
        )
        bar, status = _status_printer("quantize")
        with bar:
            status("calibrating, scoring and measuring")
            doc = api.quantize(
                model,
                backend=backend,
                data=data,
                max_drop=max_drop,
                out=out_path,
                options=options,
                shape=shape,
                rounds=rounds,
                seconds=seconds,
                warn=lambda m: err.print(f"[bold yellow]warning:[/bold yellow] {escape(m)}"),
                shapes=guard_stream,
                config=_runtime(config, precision_hint, prop),
            )
        render_quantize(doc, out)
        _save_result(doc, json_path)
        if doc["winner"] is None:
            raise typer.Exit(3)


@app.command()
def prune(
    model: ModelArg = "builtin",
    sparsity: Annotated[float, typer.Option(help="Fraction of each weight tensor set to zero.")] = 0.5,
    backend: Annotated[str, typer.Option(help="openvino or onnxruntime.")] = "openvino",
    data: Annotated[
        str | None, typer.Option(help="Held-out data for the guard (default: builtin for builtin).")
    ] = None,
    max_drop: Annotated[float, typer.Option(help="Largest accepted drop.")] = 0.01,
    out_path: Annotated[Path | None, typer.Option("--out", help="Where the accepted sparse model goes.")] = None,
    shape: Annotated[str | None, typer.Option(help="Static shape for synthetic inputs.")] = None,
    shapes: GuardShapesOpt = None,
    shape_histogram: HistogramOpt = None,
    stream: GuardStreamOpt = 32,
    rounds: Annotated[int, typer.Option(help="Interleaved dense/sparse speed rounds.")] = 3,
    seconds: Annotated[float, typer.Option(help="Seconds per speed run (without --shapes).")] = 5.0,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Magnitude sparsity on weights, with its accuracy and a side-by-side speed check."""
    with _errors():
        guard_stream = _guard_shapes(shapes, shape_histogram, stream)
        bar, status = _status_printer("prune")
        with bar:
            status("pruning, scoring and measuring")
            doc = api.prune(
                model,
                sparsity=sparsity,
                backend=backend,
                data=data,
                max_drop=max_drop,
                out=out_path,
                shape=shape,
                rounds=rounds,
                seconds=seconds,
                warn=_warn,
                shapes=guard_stream,
                config=_runtime(config, precision_hint, prop),
            )
        render_quantize(doc, out)
        _save_result(doc, json_path)


@app.command()
def precision(
    model: ModelArg = "builtin",
    precisions: Annotated[str, typer.Option("--precision", help="Comma list of f32, bf16, f16.")] = "bf16,f16",
    backend: Annotated[str, typer.Option(help="openvino (ONNX Runtime has no precision hint).")] = "openvino",
    data: Annotated[
        str | None, typer.Option(help="Held-out data for the guard (default: builtin for builtin).")
    ] = None,
    max_drop: Annotated[float, typer.Option(help="Largest accepted drop.")] = 0.01,
    shape: Annotated[str | None, typer.Option(help="Static shape for synthetic inputs.")] = None,
    shapes: GuardShapesOpt = None,
    shape_histogram: HistogramOpt = None,
    stream: GuardStreamOpt = 32,
    rounds: Annotated[int, typer.Option(help="Interleaved f32/candidate speed rounds.")] = 3,
    seconds: Annotated[float, typer.Option(help="Seconds per speed run (without --shapes).")] = 5.0,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Inference-precision hints against f32: accuracy, speed, and whether this CPU runs them natively."""
    with _errors():
        guard_stream = _guard_shapes(shapes, shape_histogram, stream)
        bar, status = _status_printer("precision")
        with bar:
            status("scoring and measuring")
            doc = api.precision(
                model,
                precisions=[p.strip() for p in precisions.split(",") if p.strip()],
                backend=backend,
                data=data,
                max_drop=max_drop,
                shape=shape,
                rounds=rounds,
                seconds=seconds,
                warn=_warn,
                shapes=guard_stream,
                config=_runtime(config, None, prop),
            )
        render_quantize(doc, out)
        if json_path:
            save_json(doc, json_path)


def _save_result(doc: dict[str, Any], json_path: Path | None) -> None:
    """Write the result where asked, and always next to an optimized model that was written."""
    targets = [json_path] if json_path else []
    targets += [Path(c["written_to"]).with_suffix(".json") for c in doc["candidates"] if c.get("written_to")]
    for target in targets:
        save_json(doc, target)
        out.print(f"wrote {target}")


def _config_model(path: Path) -> str | None:
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):
        return None  # load_config_file already reported what is wrong with the file
    return value if isinstance(value, str) else None


def _warn(message: str) -> None:
    err.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}")


@app.command()
def doctor(
    peak: Annotated[bool, typer.Option("--peak/--no-peak", help="Measure matmul peaks (about 15 s).")] = True,
    json_path: JsonOpt = None,
) -> None:
    """Runtimes and extras installed, CPU features, measured peak GFLOP/s, and signs of a noisy machine."""
    with _errors():
        doc = api.doctor(measure_peak=peak)
        render_doctor(doc, out)
        if json_path:
            save_json(doc, json_path)


@app.command()
def bench(
    model: Annotated[
        str | None, typer.Argument(help="Model file (.onnx, .xml IR) or 'builtin' (default: the --config's model).")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            "--backends",
            help="openvino, onnxruntime, torch, torch-inductor, or a comma list compared on identical inputs "
            "(default: the --config's, or openvino).",
        ),
    ] = None,
    mode: Annotated[str, typer.Option(help="latency, throughput or both.")] = "both",
    hint: Annotated[
        str | None, typer.Option(help="OpenVINO hint: latency, throughput, cumulative_throughput, none.")
    ] = None,
    streams: Annotated[int | None, typer.Option(help="OpenVINO NUM_STREAMS.")] = None,
    threads: Annotated[int | None, typer.Option(help="Inference threads (ORT, torch: intra-op).")] = None,
    requests: Annotated[int | None, typer.Option(help="Requests in flight (throughput).")] = None,
    batch: Annotated[int | None, typer.Option(help="Batch size (first dimension).")] = None,
    shape: Annotated[str | None, typer.Option(help="1,3,224,224 or name[1,3,224,224],other[1,128].")] = None,
    shapes: Annotated[
        str | None,
        typer.Option(
            help="Dynamic shapes: groups 'ids[1,32];ids[1,128]', a range 'ids[1,16..512]', or 'data'; "
            "per-group results (see inferperf dynamic)."
        ),
    ] = None,
    shape_histogram: HistogramOpt = None,
    stream: StreamOpt = 100,
    precision_hint: Annotated[
        str | None, typer.Option("--infer-precision", help="OpenVINO precision: f32, bf16, f16.")
    ] = None,
    inter_op_threads: Annotated[int | None, typer.Option(help="ORT/torch inter-op threads.")] = None,
    execution_mode: Annotated[str | None, typer.Option(help="ORT: sequential or parallel.")] = None,
    graph_optimization: Annotated[str | None, typer.Option(help="ORT: disable, basic, extended, all.")] = None,
    cache_dir: Annotated[str | None, typer.Option(help="OpenVINO model cache folder.")] = None,
    pinning: Annotated[bool | None, typer.Option("--pinning/--no-pinning", help="OpenVINO CPU pinning.")] = None,
    device: Annotated[str | None, typer.Option(help="OpenVINO device (CPU).")] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--property", help="Runtime property KEY=VALUE (repeatable).")
    ] = None,
    time_s: Annotated[float | None, typer.Option("--time", help="Fixed measuring time per run, seconds.")] = None,
    iterations: Annotated[int | None, typer.Option(help="Fixed number of inferences per run.")] = None,
    precision: Annotated[float | None, typer.Option(help="Adaptive stop: median CI half-width / median.")] = None,
    max_time: Annotated[float | None, typer.Option(help="Adaptive cap per run, seconds.")] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up seconds before measuring.")] = None,
    repeats: Annotated[
        int | None,
        typer.Option(
            help="Independent repeats (fresh compile each, interleaved); intervals widen "
            "with their spread, so they hold across reruns."
        ),
    ] = None,
    inputs: Annotated[Path | None, typer.Option(help=".npz with arrays named like the inputs.")] = None,
    data: Annotated[str | None, typer.Option(help="Real inputs: image folder, .npz/.npy, or 'builtin'.")] = None,
    int_range: Annotated[str | None, typer.Option(help="LOW,HIGH for synthetic integer inputs.")] = None,
    input_value: Annotated[list[str] | None, typer.Option(help="name=value for an input (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of synthetic inputs.")] = 0,
    config: Annotated[Path | None, typer.Option(help="JSON config file (options given here win).")] = None,
    json_path: JsonOpt = None,
    history: Annotated[
        bool, typer.Option("--history", help="Also record the result in the history ($INFERPERF_HISTORY or user data).")
    ] = False,
) -> None:
    """Latency and throughput with 95% confidence intervals, on OpenVINO, ONNX Runtime and/or PyTorch.

    With several backends, outputs are cross-checked and a table gives each one's ratios to the first.
    """
    with _errors():
        file_runtime, file_limits = load_config_file(config) if config else ({}, {})
        # A tuned config names its backend and model: used unless the command line says otherwise.
        backend = backend or file_runtime.get("backend") or "openvino"
        model = model or (_config_model(config) if config else None) or "builtin"
        runtime = RuntimeConfig.from_dict(
            _merge(
                file_runtime,
                {
                    "hint": hint,
                    "streams": streams,
                    "threads": threads,
                    "requests": requests,
                    "batch": batch,
                    "inference_precision": precision_hint,
                    "inter_op_threads": inter_op_threads,
                    "execution_mode": execution_mode,
                    "graph_optimization": graph_optimization,
                    "cache_dir": cache_dir,
                    "pinning": pinning,
                    "device": device,
                    "properties": _properties(prop) or None,
                },
            )
        )
        file_runtime.pop("backend", None)
        limits = RunLimits.from_dict(
            _merge(
                file_limits,
                {
                    "time_s": time_s,
                    "iterations": iterations,
                    "precision": precision,
                    "max_time_s": max_time,
                    "warmup_s": warmup,
                    "repeats": repeats,
                },
            )
        )
        backends = [b.strip() for b in backend.split(",") if b.strip()]
        if shapes is not None:
            _bench_shapes(
                model,
                backends,
                mode,
                runtime,
                shapes,
                shape_histogram,
                data,
                stream,
                seed,
                repeats,
                int_range,
                json_path,
            )
            return
        bar, factory = _progress_factory(err)
        with bar:
            result = api.bench(
                model,
                backends=backends,
                mode=mode,
                config=runtime,
                limits=limits,
                shape=shape,
                inputs=inputs,
                int_range=parse_int_range(int_range),
                input_values=parse_input_values(input_value),
                seed=seed,
                data=data,
                progress_factory=factory,
            )
        render_bench(result, out)
        if json_path:
            save_json(result.to_dict(), json_path)
            out.print(f"wrote {json_path}")
        if history:
            rid = api.history_record(result.to_dict(), source="bench")
            out.print(f"recorded in history as #{rid}")
        if result.errors:
            raise typer.Exit(3)


def _emit_dynamic(doc: dict[str, Any], json_path: Path | None) -> None:
    from inferperf.report.dynamic_console import render_dynamic

    if json_path:  # written before rendering: a display problem never costs the measurement
        save_json(doc, json_path)
    render_dynamic(doc, out)
    if json_path:
        out.print(f"wrote {json_path}")


def _bench_shapes(
    model: str,
    backends: list[str],
    mode: str,
    runtime: RuntimeConfig,
    shapes: str,
    histogram: Path | None,
    data: str | None,
    stream: int,
    seed: int,
    repeats: int | None,
    int_range: str | None,
    json_path: Path | None,
) -> None:
    """bench --shapes: the dynamic strategy alone on the seeded shape stream, results per shape group."""
    from inferperf.measure.dynamic import DynamicOptions

    if len(backends) != 1:
        raise ConfigError("--shapes measures one backend at a time: give one --backend")
    if mode not in ("latency", "throughput", "both"):
        raise ConfigError(f"invalid mode {mode!r}: expected latency or throughput with --shapes")
    if mode == "both":
        out.print("--shapes measures one scenario: latency (use --mode throughput for the other)")
    requests = 1 if mode != "throughput" else (runtime.requests or os.cpu_count() or 1)
    options = DynamicOptions(strategies=("dynamic",), stream=stream, rounds=repeats or 3, requests=requests, seed=seed)
    bar, status = _status_printer("bench --shapes")
    with bar:
        doc = api.dynamic(
            model,
            shapes,
            backend=backends[0],
            histogram=histogram,
            data=data,
            options=options,
            config=runtime,
            int_range=parse_int_range(int_range),
            progress=lambda frac, text: status(f"{frac * 100:.0f}% {text}"),
        )
    _emit_dynamic(doc, json_path)


def _tuned_config(doc: dict[str, Any]) -> dict[str, Any] | None:
    rec = doc.get("recommendation")
    if not rec:
        return None
    return {
        "runtime": rec["runtime"],
        "limits": {},
        "model": rec["model"],
        "scenario": rec["scenario"],
        "source": "inferperf tune",
        "verified": rec["verified"],
        "meets_constraints": rec["meets_constraints"],
    }


@app.command()
def tune(
    model: ModelArg = "builtin",
    backend: Annotated[str, typer.Option(help="Backends to search, comma list.")] = "openvino",
    objective: Annotated[str, typer.Option(help="throughput or latency.")] = "throughput",
    p99_max: Annotated[str | None, typer.Option(help="Latency budget on p99, e.g. 30ms.")] = None,
    memory_max: Annotated[str | None, typer.Option(help="Peak resident memory budget, e.g. 2GB.")] = None,
    budget: Annotated[str, typer.Option(help="Time for the whole search, e.g. 5m.")] = "5m",
    trial_time: Annotated[str, typer.Option(help="Measuring time of a short trial.")] = "2s",
    round_time: Annotated[
        str | None, typer.Option(help="Length of each interleaved verification round (default max(2s, trial time)).")
    ] = None,
    variants: Annotated[str | None, typer.Option(help="Other model files to try (INT8, ...), comma list.")] = None,
    front: Annotated[bool, typer.Option(help="Multi-objective NSGA-II over throughput and p99.")] = False,
    finalists: Annotated[int, typer.Option(help="Configurations verified side by side at the end.")] = 3,
    max_trials: Annotated[int | None, typer.Option(help="Cap on short trials.")] = None,
    shape: Annotated[str | None, typer.Option(help="1,3,224,224 or name[1,3,224,224],other[1,128].")] = None,
    shapes: Annotated[
        str | None,
        typer.Option(
            help="Tune for a shape distribution: every trial runs one engine with open dims over the same "
            "seeded stream, e.g. 'input_ids[1,16..512]' or 'data' (sizes from --data)."
        ),
    ] = None,
    shape_histogram: HistogramOpt = None,
    data: Annotated[Path | None, typer.Option(help="With --shapes data: image folder or .txt/.jsonl texts.")] = None,
    stream: Annotated[
        int, typer.Option(help="With --shapes: inputs in the stream; each trial warms on one pass and measures one.")
    ] = 32,
    inputs: Annotated[Path | None, typer.Option(help=".npz with arrays named like the inputs.")] = None,
    int_range: Annotated[str | None, typer.Option(help="LOW,HIGH for synthetic integer inputs.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampler and of synthetic inputs.")] = 0,
    save_config: Annotated[
        Path, typer.Option("--save-config", help="Where the recommended config goes (for bench --config).")
    ] = Path("tuned-config.json"),
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Search runtime knobs and model variants under latency/memory budgets; verify the winner side by side."""
    from inferperf.config import TuneOptions, parse_megabytes, parse_milliseconds, parse_seconds
    from inferperf.report.tune_console import render_tune

    with _errors():
        options = TuneOptions(
            objective=objective,
            p99_max_ms=parse_milliseconds(p99_max, "--p99-max") if p99_max else None,
            memory_max_mb=parse_megabytes(memory_max, "--memory-max") if memory_max else None,
            budget_s=parse_seconds(budget, "--budget"),
            trial_s=parse_seconds(trial_time, "--trial-time"),
            round_s=parse_seconds(round_time, "--round-time") if round_time else None,
            front=front,
            seed=seed,
            finalists=finalists,
            max_trials=max_trials,
        )
        backends = [b.strip() for b in backend.split(",") if b.strip()]
        paths = [v.strip() for v in (variants or "").split(",") if v.strip()]

        def checkpoint(doc: dict[str, Any]) -> None:
            if json_path:
                save_json(doc, json_path)  # every finished trial survives a Ctrl-C or a crash

        bar, factory = _progress_factory(err)
        with bar:
            doc = api.tune(
                model,
                backends=backends,
                variants=paths,
                options=options,
                shape=shape,
                inputs=inputs,
                int_range=parse_int_range(int_range),
                seed=seed,
                progress=factory("tuning"),
                checkpoint=checkpoint,
                shapes=shapes,
                histogram=shape_histogram,
                data=data,
                stream=stream,
                config=_runtime(config, precision_hint, prop),
            )
        render_tune(doc, out)
        if json_path:
            save_json(doc, json_path)
            out.print(f"wrote {json_path}")
        tuned = _tuned_config(doc)
        if tuned:
            again = ""
            if doc.get("shapes"):
                tuned["shapes"] = doc["shapes"]["spec"]  # the distribution it was tuned for
                again = f" --shapes '{doc['shapes']['spec']}'"
            save_json(tuned, save_config)
            out.print(f"wrote {save_config}: inferperf bench {tuned['model']}{again} --config {save_config}")
        if doc.get("interrupted"):
            raise typer.Exit(130)
        if not tuned:
            raise typer.Exit(3)


@app.command()
def e2e(
    model: ModelArg = "builtin",
    images: Annotated[Path | None, typer.Option(help="Folder of image files (class subfolders allowed).")] = None,
    data: Annotated[
        str | None, typer.Option(help="Image folder, .npz with raw 'images' (uint8), or 'builtin'.")
    ] = None,
    backend: Annotated[str, typer.Option(help="openvino or onnxruntime.")] = "openvino",
    decoder: Annotated[str, typer.Option(help="pillow or opencv (decode, resize, colour conversion).")] = "pillow",
    size: Annotated[str | None, typer.Option(help="Resize images to H,W.")] = None,
    mean: Annotated[str | None, typer.Option(help="Per-channel mean (pixel units), e.g. 123.7,116.3,103.5.")] = None,
    scale: Annotated[str | None, typer.Option(help="Per-channel scale (pixel units), e.g. 58.4,57.1,57.4.")] = None,
    layout: Annotated[str | None, typer.Option(help="NCHW or NHWC.")] = None,
    color: Annotated[str | None, typer.Option(help="RGB, BGR or GRAY.")] = None,
    seconds: Annotated[float, typer.Option(help="Seconds of the interleaved sequential phase.")] = 20.0,
    pipelined_seconds: Annotated[float, typer.Option(help="Seconds of the pipelined run.")] = 10.0,
    prep_threads: Annotated[int | None, typer.Option(help="Pipelined pre-processing threads.")] = None,
    requests: Annotated[int | None, typer.Option(help="Pipelined async requests in flight.")] = None,
    queue_size: Annotated[int | None, typer.Option(help="Bounded queue between pre-processing and inference.")] = None,
    top_k: Annotated[int, typer.Option(help="Classes kept by the softmax + top-k post-processing.")] = 5,
    fuse: Annotated[
        bool, typer.Option("--fuse/--no-fuse", help="Also measure pre-processing fused into the model.")
    ] = True,
    save_fused: Annotated[
        Path | None, typer.Option(help="Write the fused model here (.xml for openvino, .onnx for onnxruntime).")
    ] = None,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Where end-to-end time goes: decode, pre-processing, copy, inference, post-processing; pipelined; fused."""
    from inferperf.measure.e2e import E2EOptions
    from inferperf.report.e2e_console import render_e2e

    with _errors():
        pre = {
            "size": _floats(size, "size", int),
            "mean": _floats(mean, "mean"),
            "scale": _floats(scale, "scale"),
            "layout": layout,
            "color": color,
        }
        options = E2EOptions(
            seconds=seconds,
            pipelined_seconds=pipelined_seconds,
            prep_threads=prep_threads,
            requests=requests,
            queue_size=queue_size,
            top_k=top_k,
        )
        bar, status = _status_printer("e2e")
        with bar:
            status("compiling")
            doc = api.e2e(
                model,
                images=images,
                data=data,
                backend=backend,
                decoder=decoder,
                preprocess=pre,
                options=options,
                fuse=fuse,
                save_fused=save_fused,
                progress=status,
                config=_runtime(config, precision_hint, prop),
            )
        render_e2e(doc, out)
        if json_path:
            save_json(doc, json_path)
            out.print(f"wrote {json_path}")


@app.command()
def dynamic(
    model: ModelArg = "builtin",
    shapes: Annotated[
        str,
        typer.Option(
            help="Shape groups: 'input_ids[1,32];input_ids[1,128]', a range 'input_ids[1,16..512]', "
            "weights 'g1*3;g2', or 'data' (sizes from --data)."
        ),
    ] = "",
    shape_histogram: Annotated[
        Path | None, typer.Option(help="Sizes for the ranged dim: CSV 'size,count' rows or JSON {size: count}.")
    ] = None,
    data: Annotated[str | None, typer.Option(help="With --shapes data: image folder or .txt/.jsonl texts.")] = None,
    backend: Annotated[str, typer.Option(help="openvino or onnxruntime.")] = "openvino",
    strategies: Annotated[
        str, typer.Option(help="Comma list of dynamic, buckets, largest, bounded (OpenVINO).")
    ] = "dynamic,buckets,largest,bounded",
    buckets: Annotated[str | None, typer.Option(help="Bucket sizes of the ranged dim (default powers of 2).")] = None,
    stream: Annotated[int, typer.Option(help="Inputs in the stream (one pass).")] = 100,
    rounds: Annotated[int, typer.Option(help="Measured passes per strategy, interleaved.")] = 3,
    requests: Annotated[int, typer.Option(help="Requests in flight (1 = latency).")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the shape stream and of the synthetic inputs.")] = 0,
    int_range: Annotated[str | None, typer.Option(help="LOW,HIGH for synthetic integer inputs.")] = None,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report with latency against size.")] = None,
) -> None:
    """Dynamic shapes: per-group latency on a seeded shape stream, and which way to compile for it wins."""
    from inferperf.measure.dynamic import DynamicOptions

    with _errors():
        if not shapes.strip():
            raise ConfigError("--shapes is required, e.g. --shapes 'input_ids[1,16..512]'")
        options = DynamicOptions(
            strategies=tuple(s.strip() for s in strategies.split(",") if s.strip()),
            stream=stream,
            rounds=rounds,
            requests=requests,
            seed=seed,
        )
        bar, status = _status_printer("dynamic")
        with bar:
            doc = api.dynamic(
                model,
                shapes,
                backend=backend,
                histogram=shape_histogram,
                data=data,
                buckets=buckets,
                options=options,
                int_range=parse_int_range(int_range),
                progress=lambda frac, text: status(f"{frac * 100:.0f}% {text}"),
                config=_runtime(config, precision_hint, prop),
            )
        _emit_dynamic(doc, json_path)
        if html:
            from inferperf.report.html import report_for

            out.print(f"wrote {report_for(doc, html)}")


@app.command()
def profile(
    models: Annotated[
        list[str] | None, typer.Argument(help="Model (default builtin); with --compare, two models A B.")
    ] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Profile two models side by side, per layer.")] = False,
    backend: Annotated[str, typer.Option(help="openvino or onnxruntime.")] = "openvino",
    top: Annotated[int, typer.Option(help="Rows in the layer and op-type tables.")] = 15,
    seconds: Annotated[float, typer.Option(help="Seconds of profiled inferences per model.")] = 5.0,
    reference: Annotated[float, typer.Option(help="Seconds of latency-mode run with counters off (0 skips it).")] = 3.0,
    shape: Annotated[str | None, typer.Option(help="Static shape for dynamic inputs.")] = None,
    shapes: Annotated[
        str | None,
        typer.Option(
            help="Profile each fixed shape group, e.g. 'input_ids[1,32];input_ids[1,512]', and show how each "
            "op type's time grows with the input."
        ),
    ] = None,
    int_range: Annotated[str | None, typer.Option(help="LOW,HIGH for synthetic integer inputs.")] = None,
    batch: Annotated[int | None, typer.Option(help="Batch size (first dimension).")] = None,
    hint: Annotated[str | None, typer.Option(help="OpenVINO hint (default latency).")] = None,
    streams: Annotated[int | None, typer.Option(help="OpenVINO NUM_STREAMS.")] = None,
    threads: Annotated[int | None, typer.Option(help="Inference threads (ORT: intra-op).")] = None,
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Per-layer time, kernel and precision; layer sum vs latency; findings on why it is not faster."""
    from inferperf.report.profile_console import render_profile, render_profile_compare, render_profile_shapes

    with _errors():
        names = models or ["builtin"]
        if compare != (len(names) == 2) or len(names) > 2:
            raise ConfigError("give one model, or --compare with exactly two models (A B)")
        if shapes is not None and (compare or shape is not None):
            raise ConfigError("--shapes profiles one model at each of its groups: leave out --compare and --shape")
        runtime = _runtime(config, precision_hint, prop, hint=hint, streams=streams, threads=threads, batch=batch)
        bar, status = _status_printer("profile")
        if shapes is not None:
            with bar:
                doc = api.profile_shapes(
                    names[0],
                    shapes,
                    backend=backend,
                    config=runtime,
                    seconds=seconds,
                    int_range=parse_int_range(int_range),
                    progress=status,
                )
            render_profile_shapes(doc, out, top)
            if json_path:
                save_json(doc, json_path)
                out.print(f"wrote {json_path}")
            return
        with bar:
            doc = api.profile(
                names[0],
                compare_with=names[1] if compare else None,
                backend=backend,
                config=runtime,
                shape=shape,
                seconds=seconds,
                reference_s=reference,
                progress=status,
            )
        if compare:
            render_profile_compare(doc, out, top)
        else:
            render_profile(doc, out, top)
        if json_path:
            save_json(doc, json_path)
            out.print(f"wrote {json_path}")


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="Result A (bench JSON), or config A with --interleave.")],
    b: Annotated[
        Path | None,
        typer.Argument(help="Result B (bench JSON), or config B with --interleave; none with --against-history."),
    ] = None,
    against_history: Annotated[
        bool,
        typer.Option(
            "--against-history",
            help="A is a new result: compare it with the latest recorded one (same model hash, config, machine).",
        ),
    ] = False,
    history_path: Annotated[
        Path | None, typer.Option("--history", help="History file (default: $INFERPERF_HISTORY or user data).")
    ] = None,
    interleave: Annotated[
        bool, typer.Option(help="A and B are config files: measure them A B A B in one worker.")
    ] = False,
    model: Annotated[str | None, typer.Option(help="With --interleave: model (default: the configs').")] = None,
    scenario: Annotated[str, typer.Option(help="With --interleave: throughput or latency.")] = "throughput",
    rounds: Annotated[int, typer.Option(help="With --interleave: rounds of A then B.")] = 8,
    round_time: Annotated[str, typer.Option(help="With --interleave: seconds per config per round.")] = "3s",
    shapes: Annotated[
        str | None,
        typer.Option(
            help="With --interleave: both over one seeded shape stream, e.g. 'input_ids[1,16..512]'; "
            "each round is one whole pass of it (not --round-time)."
        ),
    ] = None,
    shape_histogram: HistogramOpt = None,
    stream: StreamOpt = 100,
    int_range: Annotated[str | None, typer.Option(help="With --interleave: LOW,HIGH for integer inputs.")] = None,
    threshold: Annotated[str, typer.Option(help="Noise threshold below which no difference is declared.")] = "2%",
    fail_if_slower: Annotated[
        str | None, typer.Option(help="Exit 1 when B is significantly slower by more than this, e.g. 5%.")
    ] = None,
    json_path: JsonOpt = None,
) -> None:
    """Is B really faster than A? Ratio B/A per metric with a 95% interval and a verdict."""
    from inferperf.config import parse_fraction, parse_seconds
    from inferperf.report.compare import regressions
    from inferperf.report.tune_console import render_compare

    with _errors():
        noise = parse_fraction(threshold, "--threshold")
        gate = parse_fraction(fail_if_slower, "--fail-if-slower") if fail_if_slower else None
        if shapes is not None and not interleave:
            raise ConfigError("--shapes needs --interleave: results already measured keep the shapes they had")
        if against_history:
            if b is not None or interleave:
                raise ConfigError("--against-history takes one result (the new one), without --interleave")
            doc = api.compare_against_history(a, history=history_path, threshold=noise)
        elif b is None:
            raise ConfigError("compare needs two results A B (or one with --against-history)")
        elif interleave:
            seconds = parse_seconds(round_time, "--round-time")
            with _status_printer("interleaving A and B")[0]:
                doc = api.compare_interleaved(
                    a,
                    b,
                    model=model,
                    scenario=scenario,
                    rounds=rounds,
                    seconds=seconds,
                    threshold=noise,
                    shapes=shapes,
                    histogram=shape_histogram,
                    stream=stream,
                    int_range=parse_int_range(int_range),
                )
        else:
            doc = api.compare(a, b, threshold=noise)
        render_compare(doc, out)
        if json_path:
            save_json(doc, json_path)
            out.print(f"wrote {json_path}")
        if gate is not None:
            bad = regressions(doc, gate)
            if bad:
                worst = max(bad, key=lambda r: r["slowdown"])
                err.print(
                    f"regression: {worst['metric']} ({worst['backend']} {worst['scenario']}) is "
                    f"{worst['slowdown'] * 100:.1f}% slower, over the {gate * 100:g}% gate"
                )
                raise typer.Exit(1)


@app.command()
def report(
    result: Annotated[Path, typer.Argument(help="Any inferperf result JSON (bench, tune, coldstart, memory, ...).")],
    html_path: Annotated[Path, typer.Option("--html", help="Where to write the self-contained HTML page.")] = Path(
        "report.html"
    ),
) -> None:
    """Render a result as a self-contained HTML page (plotly embedded, no network needed to view it)."""
    from inferperf.report.html import report_for
    from inferperf.results.schema import load_document

    with _errors():
        written = report_for(load_document(result), html_path)
        out.print(f"wrote {written}")


@app.command()
def optimize(
    model: ModelArg = "builtin",
    data: Annotated[
        str | None, typer.Option(help="Labelled data for the accuracy guard (default: built-in split).")
    ] = None,
    p99_max: Annotated[str | None, typer.Option(help="Latency budget on p99, e.g. 30ms.")] = None,
    memory_max: Annotated[str | None, typer.Option(help="Peak resident memory budget, e.g. 2GB.")] = None,
    max_drop: Annotated[str, typer.Option(help="Largest top-1 drop allowed, e.g. 1% or 0.01.")] = "1%",
    budget: Annotated[str, typer.Option(help="Time for the whole flow, e.g. 10m.")] = "10m",
    backend: Annotated[str, typer.Option(help="Backends to measure and tune, comma list.")] = "openvino,onnxruntime",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for every result, the model, config and reports.")
    ] = Path("inferperf-optimize"),
    time_scale: Annotated[
        float, typer.Option(help="Multiply every measuring time (e.g. 0.2 for a quick, rougher look).")
    ] = 1.0,
    shapes: Annotated[
        str | None,
        typer.Option(
            help="Optimize for a shape distribution, e.g. 'input_ids[1,16..512]': every step runs one seeded "
            "stream with the varying dims open (bench compares compile strategies on it)."
        ),
    ] = None,
    shape_histogram: HistogramOpt = None,
    stream: StreamOpt = 32,
) -> None:
    """The whole flow: doctor, baseline, bench, cold start, memory, INT8, tuning, verification, report."""
    from inferperf.config import OptimizeOptions, parse_fraction, parse_megabytes, parse_milliseconds, parse_seconds

    with _errors():
        options = OptimizeOptions(
            data=data,
            p99_max_ms=parse_milliseconds(p99_max, "--p99-max") if p99_max else None,
            memory_max_mb=parse_megabytes(memory_max, "--memory-max") if memory_max else None,
            max_drop=parse_fraction(max_drop, "--max-drop"),
            budget_s=parse_seconds(budget, "--budget"),
            backends=tuple(b.strip() for b in backend.split(",") if b.strip()),
            time_scale=time_scale,
            shapes=shapes,
            shape_histogram=str(shape_histogram) if shape_histogram else None,
            stream=stream,
        )
        bar, factory = _progress_factory(err)
        tasks: dict[str, Callable[[float, str], None]] = {}

        def status(title: str, text: str) -> None:
            if title not in tasks:
                tasks[title] = factory(title)
            done = 1.0 if text in ("ok", "skipped") or text.startswith("failed") else 0.0
            tasks[title](done, text[:60])

        try:
            with bar:
                doc = api.optimize(model, options=options, out=out_dir, status=status)
        except KeyboardInterrupt:
            out.print(f"interrupted: partial results, summary.md and report.html are in {out_dir}")
            raise
        out.print((out_dir / "summary.md").read_text(encoding="utf-8"))
        out.print(f"wrote {out_dir}/ (report.html, summary.md, optimize.json, one JSON per step)")
        failed = [s for s in doc["steps"] if s["status"] == "failed"]
        if "speedup" not in doc["headline"]:
            raise typer.Exit(3)
        if failed:
            _warn(f"{len(failed)} step(s) failed: " + ", ".join(s["name"] for s in failed))


@app.command()
def scenario(
    model: ModelArg = "builtin",
    scenario_name: Annotated[
        str, typer.Option("--scenario", help="single-stream, multi-stream, server or offline.")
    ] = "offline",
    backend: Annotated[str, typer.Option(help="openvino, onnxruntime, ...")] = "openvino",
    target_qps: Annotated[
        float | None, typer.Option(help="Server: Poisson arrival rate (default: half the warm-up throughput).")
    ] = None,
    p99_max: Annotated[
        str | None, typer.Option(help="Server/MultiStream p99 bound, e.g. 120ms (default: 3x warm-up median).")
    ] = None,
    find_peak: Annotated[
        bool, typer.Option(help="Server: bisect for the highest rate whose p99 meets the bound, then confirm.")
    ] = False,
    accuracy_mode: Annotated[
        bool, typer.Option("--accuracy", help="LoadGen accuracy mode over labelled --data (default 'builtin').")
    ] = False,
    min_duration: Annotated[str, typer.Option(help="LoadGen minimum duration, e.g. 10s.")] = "10s",
    min_queries: Annotated[
        int | None, typer.Option(help="LoadGen minimum query count (default: what early stopping needs).")
    ] = None,
    max_duration: Annotated[
        str | None, typer.Option(help="Cap on each LoadGen run, e.g. 2m (a capped run may end INVALID).")
    ] = None,
    samples_per_query: Annotated[int, typer.Option(help="MultiStream samples per query.")] = 8,
    warmup: Annotated[float, typer.Option(help="Warm-up seconds (also sizes Offline and the defaults).")] = 2.0,
    peak_steps: Annotated[int, typer.Option(help="--find-peak bisection steps.")] = 6,
    peak_run: Annotated[str, typer.Option(help="--find-peak length of each short run.")] = "4s",
    hint: Annotated[str | None, typer.Option(help="OpenVINO hint (default: by scenario).")] = None,
    streams: Annotated[int | None, typer.Option(help="OpenVINO NUM_STREAMS.")] = None,
    threads: Annotated[int | None, typer.Option(help="Inference threads (ORT: intra-op).")] = None,
    requests: Annotated[int | None, typer.Option(help="Requests in flight (not single-stream).")] = None,
    shape: Annotated[str | None, typer.Option(help="Static shape for dynamic inputs (batch 1).")] = None,
    shapes: Annotated[
        str | None,
        typer.Option(
            help="Samples over several shapes, one engine with open dims, latency per group: "
            "'input_ids[1,32];input_ids[1,128]', 'input_ids[1,16..512]', or 'data' (sizes from --data)."
        ),
    ] = None,
    shape_histogram: HistogramOpt = None,
    stream: StreamOpt = 100,  # the QSL's samples
    int_range: Annotated[str | None, typer.Option(help="LOW,HIGH for synthetic integer inputs.")] = None,
    data: Annotated[str | None, typer.Option(help="Real inputs: image folder, .npz/.npy, or 'builtin'.")] = None,
    trace: Annotated[bool, typer.Option(help="Keep LoadGen's trace log too (large).")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for LoadGen's logs and scenario.json.")] = Path(
        "inferperf-scenario"
    ),
    precision_hint: InferPrecisionOpt = None,
    prop: PropertyOpt = None,
    config: ConfigFileOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """MLPerf LoadGen scenarios: validity, the scenario's metric and latency percentiles; logs kept."""
    from inferperf.config import parse_milliseconds, parse_seconds
    from inferperf.measure.loadgen import ScenarioOptions
    from inferperf.report.scenario_console import render_scenario

    with _errors():
        options = ScenarioOptions(
            scenario=scenario_name,
            target_qps=target_qps,
            p99_max_ms=parse_milliseconds(p99_max, "--p99-max") if p99_max else None,
            min_duration_s=parse_seconds(min_duration, "--min-duration"),
            min_query_count=min_queries,
            max_duration_s=parse_seconds(max_duration, "--max-duration") if max_duration else None,
            samples_per_query=samples_per_query,
            warmup_s=warmup,
            find_peak=find_peak,
            peak_steps=peak_steps,
            peak_run_s=parse_seconds(peak_run, "--peak-run"),
            accuracy=accuracy_mode,
            trace=trace,
        )
        runtime = _runtime(config, precision_hint, prop, hint=hint, streams=streams, threads=threads, requests=requests)
        bar, status = _status_printer(f"scenario {scenario_name}")
        with bar:
            doc = api.scenario(
                model,
                backend=backend,
                options=options,
                config=runtime,
                shape=shape,
                data=data,
                out=out_dir,
                status=status,
                shapes=shapes,
                histogram=shape_histogram,
                stream=stream,
                int_range=parse_int_range(int_range),
            )
        render_scenario(doc, out)
        out.print(f"wrote {out_dir / 'scenario.json'}")
        if json_path:
            save_json(doc, json_path)


def _csv_list(text: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (text or "").split(",") if v.strip())


@app.command()
def suite(
    models: Annotated[str, typer.Option(help="Comma list: zoo:NAME, model files, builtin.")] = "builtin",
    backends: Annotated[str, typer.Option(help="Comma list of backends.")] = "openvino,onnxruntime",
    variants: Annotated[str, typer.Option(help="Comma list: fp32, int8 (by --quantizer), int8-BACKEND.")] = "fp32",
    modes: Annotated[str, typer.Option(help="Comma list: latency, throughput.")] = "latency,throughput",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for cell results, variants and reports.")] = Path(
        "inferperf-suite"
    ),
    resume: Annotated[
        bool, typer.Option(help="Reuse cells measured with the same model hash, config and environment.")
    ] = False,
    reference: Annotated[
        str | None, typer.Option(help="Reference column BACKEND:VARIANT (default: first backend, first variant).")
    ] = None,
    quantizer: Annotated[str, typer.Option(help="Backend that makes the 'int8' variant.")] = "onnxruntime",
    time_s: Annotated[float | None, typer.Option("--time", help="Fixed measuring time per run, seconds.")] = None,
    iterations: Annotated[int | None, typer.Option(help="Fixed number of inferences per run.")] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up seconds before measuring.")] = None,
    max_time: Annotated[float | None, typer.Option(help="Adaptive cap per run, seconds.")] = None,
    batch: Annotated[int, typer.Option(help="Batch size (first dimension).")] = 1,
    shape: Annotated[str | None, typer.Option(help="Static shape for dynamic inputs.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds before a cell's worker is killed.")] = 1800.0,
    history_path: Annotated[
        Path | None, typer.Option("--history", help="History file (default: $INFERPERF_HISTORY or user data).")
    ] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="Do not record cells in the history.")] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray", help="Run cells on this Ray cluster (address, or 'auto').")
    ] = None,
    nodes: Annotated[
        str | None, typer.Option(help="With --ray: comma list of node labels (custom resources or node labels).")
    ] = None,
) -> None:
    """A benchmark matrix: models x variants x backends, one cell at a time; table, CSV, Markdown, HTML."""
    from inferperf.report.suite_report import render_console
    from inferperf.suite import SuiteOptions

    with _errors():
        limits = RunLimits.from_dict(
            _merge({}, {"time_s": time_s, "iterations": iterations, "warmup_s": warmup, "max_time_s": max_time})
        )
        options = SuiteOptions(
            models=_csv_list(models),
            backends=_csv_list(backends),
            variants=_csv_list(variants),
            modes=_csv_list(modes),
            out=out_dir,
            resume=resume,
            reference=reference,
            limits=limits,
            config=RuntimeConfig(batch=batch),
            shape=shape,
            quantizer=quantizer,
            record_history=not no_history,
            history=history_path,
            cell_timeout_s=timeout,
            ray_address=ray_address,
            nodes=_csv_list(nodes),
        )
        try:
            doc = api.suite(options, status=lambda m: err.print(escape(m), highlight=False))
        except KeyboardInterrupt:
            out.print(f"interrupted: finished cells, suite.json and the reports are in {out_dir}")
            raise
        render_console(doc, out)
        out.print("wrote " + ", ".join(doc["reports"].values()))
        if any(c["status"] == "failed" for c in doc["cells"]):
            raise typer.Exit(3)


history_app = typer.Typer(help="The local history of recorded results (SQLite).", no_args_is_help=True)
app.add_typer(history_app, name="history")
HistoryOpt = Annotated[
    Path | None, typer.Option("--history", help="History file (default: $INFERPERF_HISTORY or user data).")
]


@history_app.command("list")
def history_list(
    history_path: HistoryOpt = None,
    kind: Annotated[str | None, typer.Option(help="Only results of this kind (bench, ...).")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model (sha256 prefix or part of the path).")] = None,
    limit: Annotated[int, typer.Option(help="Newest N results.")] = 30,
) -> None:
    """Recorded results, newest first."""
    from rich.table import Table

    with _errors():
        entries = api.history_list(history_path, kind=kind, model=model, limit=limit)
        table = Table(title="inferperf history (newest first)", title_justify="left")
        for col in ("id", "recorded", "kind", "model", "sha256", "machine", "runs", "source"):
            table.add_column(col)
        for e in entries:
            runs = e["summary"].get("runs") or []
            text = "; ".join(_run_text(r) for r in runs) or "-"
            table.add_row(
                str(e["id"]),
                str(e["recorded"]),
                str(e["kind"]),
                escape(Path(str(e["model_path"] or "-")).name),
                str(e["model_sha256"] or "-")[:12],
                str(e["machine"] or "-")[:8],
                escape(text),
                escape(str(e["source"] or "-")),
            )
        out.print(table)


def _run_text(run: dict[str, Any]) -> str:
    tput, lat = run.get("throughput_fps"), run.get("latency_median_ms")
    parts = [f"{run['backend']} {run['scenario']}"]
    if lat is not None:
        parts.append(f"{lat:.2f} ms")
    if tput is not None:
        parts.append(f"{tput:.1f} FPS")
    return " ".join(parts)


@history_app.command("show")
def history_show(
    result_id: Annotated[int, typer.Argument(help="Result id (from history list).")],
    history_path: HistoryOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Show one recorded result (bench results as the bench table); --json writes the whole document."""
    with _errors():
        doc = api.history_show(result_id, history_path)
        if doc.get("kind") == "bench":
            from inferperf.results.schema import BenchResult

            render_bench(BenchResult.from_dict(doc), out)
        else:
            out.print_json(data={k: v for k, v in doc.items() if k != "environment"})
        if json_path:
            save_json(doc, json_path)
            out.print(f"wrote {json_path}")


@history_app.command("export")
def history_export(
    target: Annotated[Path, typer.Argument(help="File to write.")],
    history_path: HistoryOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (whole documents) or csv (one line per run).")] = "jsonl",
    kind: Annotated[str | None, typer.Option(help="Only results of this kind.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model (sha256 prefix or part of the path).")] = None,
) -> None:
    """Export recorded results, oldest first."""
    with _errors():
        count = api.history_export(target, history_path, fmt=fmt, kind=kind, model=model)
        out.print(f"wrote {count} result(s) to {target}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="inferperf")


if __name__ == "__main__":  # pragma: no cover
    main()
