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
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from inferperf import api
from inferperf.config import RunLimits, RuntimeConfig, load_config_file
from inferperf.errors import ConfigError, InferperfError
from inferperf.inputs import parse_input_values, parse_int_range
from inferperf.report.console import render_bench, render_info
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
        err.print(f"[red]error:[/red] {exc.one_line()}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if _state["debug"]:
            raise
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        raise typer.Exit(1) from None


def _properties(items: list[str] | None) -> dict[str, str]:
    props: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad --property {item!r}: expected KEY=VALUE")
        props[key.strip()] = value.strip()
    return props


def _merge(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    # Options given on the command line win over the config file; unset ones (None) do not.
    return {**base, **{k: v for k, v in given.items() if v is not None}}


def _progress_factory(console: Console) -> tuple[Progress, Callable[[str], Callable[[float, str], None]]]:
    bar = Progress(
        TextColumn("[bold]{task.description:<26}"), BarColumn(), TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip

    def factory(label: str) -> Callable[[float, str], None]:
        task = bar.add_task(label, total=1.0, status="compiling")

        def update(fraction: float, status: str) -> None:
            bar.update(task, completed=fraction, status=status)

        return update

    return bar, factory


ModelArg = Annotated[str, typer.Argument(help="Model file (.onnx, .xml IR) or 'builtin'.")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the versioned result JSON here.")]


@app.command()
def info(model: ModelArg = "builtin", json_path: JsonOpt = None) -> None:
    """Show a model's format, inputs and outputs (dynamic dimensions marked), size and sha256."""
    with _errors():
        model_info = api.info(model)
        render_info(model_info, out)
        if json_path:
            save_json({"schema": SCHEMA, "kind": "info", "model": model_info.to_dict()}, json_path)


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
    inputs: Annotated[Path | None, typer.Option(help=".npz with arrays named like the inputs.")] = None,
    int_range: Annotated[str | None, typer.Option(help="LOW,HIGH for synthetic integer inputs.")] = None,
    input_value: Annotated[list[str] | None, typer.Option(help="name=value for an input (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of synthetic inputs.")] = 0,
    config: Annotated[Path | None, typer.Option(help="JSON config file (options given here win).")] = None,
    json_path: JsonOpt = None,
) -> None:
    """Latency and throughput with 95% confidence intervals, on OpenVINO and/or ONNX Runtime."""
    with _errors():
        file_runtime, file_limits = load_config_file(config) if config else ({}, {})
        runtime = RuntimeConfig.from_dict(_merge(file_runtime, {
            "hint": hint, "streams": streams, "threads": threads, "requests": requests, "batch": batch,
            "inference_precision": precision_hint, "inter_op_threads": inter_op_threads,
            "execution_mode": execution_mode, "graph_optimization": graph_optimization,
            "cache_dir": cache_dir, "pinning": pinning, "device": device,
            "properties": _properties(prop) or None,
        }))  # fmt: skip
        file_runtime.pop("backend", None)
        limits = RunLimits.from_dict(_merge(file_limits, {
            "time_s": time_s, "iterations": iterations, "precision": precision,
            "max_time_s": max_time, "warmup_s": warmup,
        }))  # fmt: skip
        backends = [b.strip() for b in backend.split(",") if b.strip()]
        bar, factory = _progress_factory(err)
        with bar:
            result = api.bench(
                model, backends=backends, mode=mode, config=runtime, limits=limits, shape=shape,
                inputs=inputs, int_range=parse_int_range(int_range),
                input_values=parse_input_values(input_value), seed=seed, progress_factory=factory,
            )  # fmt: skip
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
