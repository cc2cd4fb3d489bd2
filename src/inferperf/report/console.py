"""Rich console tables for results. Reads result documents; knows nothing of runtimes."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.model.info import ModelInfo
from inferperf.results.schema import BenchResult, RunResult


def _ci(stat: dict[str, Any], digits: int = 2) -> str:
    lo, hi = stat["ci95"]
    hi_text = f"{hi:.{digits}f}" if hi is not None else "inf"
    return f"{stat['value']:.{digits}f} [{lo:.{digits}f}, {hi_text}]"


def _opt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _knobs(run: RunResult) -> str:
    eff = run.effective
    parts = [f"req={eff.get('requests_in_flight')}"]
    for key, label in (("NUM_STREAMS", "streams"), ("INFERENCE_NUM_THREADS", "threads"),
                       ("intra_op_num_threads", "threads"), ("PERFORMANCE_HINT", "hint"),
                       ("INFERENCE_PRECISION_HINT", "prec")):  # fmt: skip
        if key in eff:
            parts.append(f"{label}={eff[key]}")
    return " ".join(parts)


def _stop(run: RunResult) -> str:
    if run.converged is True:
        return "yes"
    return "NO (cap)" if run.converged is False else run.stop_reason


def render_bench(result: BenchResult, console: Console) -> None:
    """Results table (latency and throughput with 95% intervals), config and phases, environment."""
    table = Table(title=f"inferperf bench: {escape(str(result.model['path']))}", title_justify="left")
    table.add_column("run")
    for col in ("median ms [95% CI]", "p90 ms", "p99 ms [95% CI]", "throughput FPS [95% CI]", "n"):
        table.add_column(col, justify="right")
    table.add_column("converged")
    for r in result.runs:
        lat = r.latency_ms
        table.add_row(
            f"{r.backend} {r.scenario}",
            escape(_ci(lat["median"])),
            f"{lat['p90']['value']:.2f}",
            escape(_ci(lat["p99"])),
            escape(_ci(r.throughput_fps, 1)),
            str(r.count),
            _stop(r),
        )
    console.print(table)
    setup = Table(title="effective config and start-up phases (ms, one sample each)", title_justify="left")
    setup.add_column("run")
    setup.add_column("effective config")
    for col in ("read", "compile", "1st inference"):
        setup.add_column(col, justify="right")
    for r in result.runs:
        p = r.phases_ms
        setup.add_row(
            f"{r.backend} {r.scenario}",
            escape(_knobs(r)),
            _opt(p.get("read")),
            _opt(p.get("compile")),
            _opt(p.get("first_inference")),
        )
    console.print(setup)
    for err in result.errors:
        console.print(f"[red]failed[/red] {err['backend']} {err['scenario']}: {escape(err['error'])}")
    cpu = result.environment["cpu"]
    loads = ", ".join(f"{r.backend} {r.scenario} {r.load.get('other_cores', 0):.2f}" for r in result.runs)
    features = ", ".join(cpu["features"]) or "no features read"
    console.print(
        f"[dim]CPU: {escape(str(cpu['model']))} ({cpu['cores']} cores; {features}). "
        f"Cores busy with other processes during runs: {loads or '-'}. "
        f"Intervals are 95%: latency by {_method(result)}; throughput by batch means over time windows.[/dim]"
    )


def _method(result: BenchResult) -> str:
    return str(result.runs[0].latency_ms.get("ci_method", "?")) if result.runs else "?"


def render_info(info: ModelInfo, console: Console) -> None:
    """Format, hash, size, and the inputs and outputs with dynamic dimensions marked."""
    console.print(f"[bold]{escape(str(info.path))}[/bold]  format={info.format}  size={info.size_bytes / 1e6:.2f} MB")
    console.print(f"sha256={info.sha256}")
    table = Table(show_header=True)
    for col in ("kind", "name", "element type", "shape (? = dynamic)"):
        table.add_column(col)
    for kind, specs in (("input", info.inputs), ("output", info.outputs)):
        for s in specs:
            table.add_row(kind, escape(s.name), s.dtype, escape(s.shape_text()))
    console.print(table)
