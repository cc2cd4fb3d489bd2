"""Command line: parse once into typed configs, call the API, render, exit with a code.

Exit codes: 0 ok, 1 internal error, 2 user mistake, 3 runtime failure, 130 interrupted.
"""

from __future__ import annotations

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
        doc = api.accuracy(model, data=data, backend=backend, batch=batch, preprocess=pre)
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
) -> None:
    """Build a zoo model (cached) and print its path."""
    with _errors():
        path = api.zoo_export(name, fmt=fmt, batch=batch, out=out_path)
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
    timeout: Annotated[float, typer.Option(help="Seconds before a worker is killed.")] = 300.0,
    json_path: JsonOpt = None,
) -> None:
    """First-inference latency (import, read, compile, first and second inference) in fresh processes."""
    with _errors():
        bar, status = _status_printer("coldstart")
        with bar:
            doc = api.coldstart(
                model, backend=backend, runs=runs, cache_dir=cache_dir, shape=shape, timeout_s=timeout, progress=status
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
    json_path: JsonOpt = None,
) -> None:
    """Memory per phase (import, read, compile, first inference, steady state, leak) per configuration."""
    with _errors():
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
    rounds: Annotated[int, typer.Option(help="Interleaved FP32/INT8 speed rounds.")] = 3,
    seconds: Annotated[float, typer.Option(help="Seconds per speed run.")] = 5.0,
    json_path: JsonOpt = None,
) -> None:
    """INT8 quantization with an accuracy guard, measured side by side against FP32."""
    with _errors():
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
    rounds: Annotated[int, typer.Option(help="Interleaved dense/sparse speed rounds.")] = 3,
    seconds: Annotated[float, typer.Option(help="Seconds per speed run.")] = 5.0,
    json_path: JsonOpt = None,
) -> None:
    """Magnitude sparsity on weights, with its accuracy and a side-by-side speed check."""
    with _errors():
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
    rounds: Annotated[int, typer.Option(help="Interleaved f32/candidate speed rounds.")] = 3,
    seconds: Annotated[float, typer.Option(help="Seconds per speed run.")] = 5.0,
    json_path: JsonOpt = None,
) -> None:
    """Inference-precision hints against f32: accuracy, speed, and whether this CPU runs them natively."""
    with _errors():
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
    model: ModelArg = "builtin",
    backend: Annotated[str, typer.Option(help="openvino, onnxruntime, or a comma list of both.")] = "openvino",
    mode: Annotated[str, typer.Option(help="latency, throughput or both.")] = "both",
    hint: Annotated[
        str | None, typer.Option(help="OpenVINO hint: latency, throughput, cumulative_throughput, none.")
    ] = None,
    streams: Annotated[int | None, typer.Option(help="OpenVINO NUM_STREAMS.")] = None,
    threads: Annotated[int | None, typer.Option(help="Inference threads (ORT: intra-op).")] = None,
    requests: Annotated[int | None, typer.Option(help="Requests in flight (throughput).")] = None,
    batch: Annotated[int | None, typer.Option(help="Batch size (first dimension).")] = None,
    shape: Annotated[str | None, typer.Option(help="1,3,224,224 or name[1,3,224,224],other[1,128].")] = None,
    precision_hint: Annotated[
        str | None, typer.Option("--infer-precision", help="OpenVINO precision: f32, bf16, f16.")
    ] = None,
    inter_op_threads: Annotated[int | None, typer.Option(help="ORT inter-op threads.")] = None,
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
) -> None:
    """Latency and throughput with 95% confidence intervals, on OpenVINO and/or ONNX Runtime."""
    with _errors():
        file_runtime, file_limits = load_config_file(config) if config else ({}, {})
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
        if result.errors:
            raise typer.Exit(3)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="inferperf")


if __name__ == "__main__":  # pragma: no cover
    main()
