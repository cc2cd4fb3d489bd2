"""Rich console tables for results. Reads result documents; knows nothing of runtimes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.model.info import ModelInfo
from inferperf.report.text import ci as _ci
from inferperf.results.schema import BenchResult, RunResult


def _opt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _knobs(run: RunResult) -> str:
    eff = run.effective
    parts = [f"req={eff.get('requests_in_flight')}"]
    for key, label in _knob_labels(run.backend):
        if key in eff:
            parts.append(f"{label}={eff[key]}")
    return " ".join(parts)


def _knob_labels(backend: str) -> tuple[tuple[str, str], ...]:
    """The backend's own names for its read-back knobs (none for a backend this install does not know)."""
    from inferperf.backends import get_backend
    from inferperf.errors import InferperfError

    try:
        return get_backend(backend, check=False).knob_labels
    except InferperfError:
        return ()


def _gflops(run: RunResult) -> str:
    if not run.compute:
        return "-"
    eff = run.compute["effective_gflops"]["value"]
    frac = run.compute.get("fraction_of_peak")
    return f"{eff:.1f} ({frac * 100:.0f}%)" if frac else f"{eff:.1f} (peak ?)"


def _stop(run: RunResult) -> str:
    if run.converged is True:
        return "yes"
    return "NO (cap)" if run.converged is False else run.stop_reason


def _coverage(result: BenchResult) -> str:
    """What the printed intervals cover: one run's samples, independent runs, or invocations (the history's)."""
    parts, learned = [], False
    for r in result.runs:
        med = r.latency_ms["median"]
        if med.get("covers") == "invocations":
            noise = med["invocation_noise"]
            whose = (
                "this configuration"
                if "configuration's" in str(noise.get("source", "configuration's"))
                else ("any configuration, pooled")
            )
            parts.append(
                f"{r.backend} {r.scenario}: the drift between invocations on this machine (the median "
                f"varies {noise['relative_sd'] * 100:.1f}% sd over {noise['invocations']} recorded invocations "
                f"of {whose})"
            )
            learned = True
        elif med.get("covers") == "runs":
            parts.append(f"{r.backend} {r.scenario}: {med['runs']} runs, {med['dominant']} dominate the median's")
        else:
            parts.append(f"{r.backend} {r.scenario}: one run's samples")
    tail = (
        " Runs are independent (fresh compile each, interleaved), but share this invocation's minutes of the "
        "machine: a later invocation can land outside them by the machine's drift, which is not known yet. "
        "bench records every result in the history (--no-history opts out): after 3 invocations of any "
        "configuration here, intervals cover that drift too (a fixed --time/--iterations budget makes one "
        "run; --repeats N makes N)."
    )
    return "Intervals cover " + "; ".join(parts) + "." + ("" if learned else tail)


def render_bench(result: BenchResult, console: Console) -> None:
    """Results table (latency and throughput with 95% intervals), config and phases, environment."""
    table = Table(title=f"inferperf bench: {escape(str(result.model['path']))}", title_justify="left")
    table.add_column("run")
    for col in ("median ms [95% CI]", "p90 ms", "p99 ms [95% CI]", "throughput FPS [95% CI]", "n"):
        table.add_column(col, justify="right")
    table.add_column("converged")
    with_compute = any(r.compute for r in result.runs)
    if with_compute:
        table.add_column("GFLOP/s eff. (% of peak)", justify="right")
    for r in result.runs:
        lat = r.latency_ms
        extra = [_gflops(r)] if with_compute else []
        table.add_row(
            f"{r.backend} {r.scenario}",
            escape(_ci(lat["median"])),
            f"{lat['p90']['value']:.2f}",
            escape(_ci(lat["p99"])),
            escape(_ci(r.throughput_fps, 1)),
            str(r.count),
            _stop(r),
            *extra,
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
    render_backend_comparison(result, console)
    console.print(f"[dim]{escape(_coverage(result))}[/dim]")
    for r in result.runs:
        note = (r.harness or {}).get("note")
        if note:
            console.print(f"[yellow]harness[/yellow] {r.backend} {r.scenario}: {escape(note)}")
    for err in result.errors:
        console.print(f"[red]failed[/red] {err['backend']} {err['scenario']}: {escape(err['error'])}")
    cpu = result.environment["cpu"]
    loads = ", ".join(f"{r.backend} {r.scenario} {r.load.get('other_cores', 0):.2f}" for r in result.runs)
    features = ", ".join(cpu["features"]) or "no features read"
    if with_compute:
        peak_note = next((r.compute["peak_source"] for r in result.runs if r.compute), "")
        console.print(
            "[dim]Effective GFLOP/s = model FLOPs (2 x MACs of Conv/MatMul/Gemm) x throughput; fast algorithms "
            f"(Winograd) can push it past a matmul-measured peak. Peak: {escape(peak_note)}.[/dim]"
        )
    console.print(
        f"[dim]CPU: {escape(str(cpu['model']))} ({cpu['cores']} cores; {features}). "
        f"Cores busy with other processes during runs: {loads or '-'}. "
        f"Intervals are 95%: latency by {_method(result)}; throughput by batch means over time windows.[/dim]"
    )


def _agreement(cross: Mapping[str, Any] | None, backend: str) -> str:
    """One cell: worst max |diff| (and relative to the output scale), lowest cosine, verdict."""
    if not cross:
        return "-"
    if backend == cross.get("reference"):
        return "reference"
    pair = next((p for p in cross.get("pairs", []) if p["backend"] == backend), None)
    if pair is None:
        err = next((e["error"] for e in cross.get("errors", []) if e["backend"] == backend), "not checked")
        return f"[yellow]not checked[/yellow]: {escape(err)}"
    outs = pair.get("outputs") or []
    if not outs or any("cosine" not in o for o in outs):
        return f"[red]MISMATCH[/red] {escape(str(pair.get('reason') or next((o.get('reason') for o in outs), '')))}"
    diff = max(o["max_abs_diff"] for o in outs)
    rel = max(o["max_abs_diff_rel"] for o in outs)
    cos = min(o["cosine"] for o in outs)
    verdict = "ok" if pair["agree"] else "[red]MISMATCH[/red]"
    return f"{verdict} max|d|={diff:.2g} ({rel:.1e} rel) cos={cos:.6f}"


def render_backend_comparison(result: BenchResult, console: Console) -> None:
    """One table across backends: speed, ratio to the first backend (95% CI), compile time, output agreement."""
    if not result.comparison:
        return
    table = Table(
        title="backends compared on identical inputs (ratios vs the first backend; >1 throughput, <1 latency = faster)",
        title_justify="left",
    )
    table.add_column("scenario")
    table.add_column("backend")
    for col in ("throughput FPS [95% CI]", "x baseline [95% CI]", "median ms [95% CI]", "x baseline [95% CI]"):
        table.add_column(col, justify="right")
    table.add_column("compile ms", justify="right")
    table.add_column("outputs vs reference")
    runs = {(r.scenario, r.backend): r for r in result.runs}
    for group in result.comparison:
        base = runs[(group["scenario"], group["baseline"])]
        rows = [(base, None), *((runs[(group["scenario"], row["backend"])], row) for row in group["rows"])]
        for run, row in rows:
            table.add_row(
                run.scenario,
                run.backend,
                escape(_ci(run.throughput_fps, 1)),
                escape(_ci(row["throughput_ratio"])) if row else "1",
                escape(_ci(run.latency_ms["median"])),
                escape(_ci(row["latency_median_ratio"])) if row else "1",
                _opt(run.phases_ms.get("compile")),
                _agreement(result.cross_check, run.backend),
            )
    console.print(table)
    cross = result.cross_check or {}
    if cross.get("precisions"):
        ran = ", ".join(f"{b} {p}" for b, p in cross["precisions"].items())
        console.print(f"executed precision: {escape(ran)}")
    if cross.get("note"):
        console.print(f"[yellow]{escape(cross['note'])}[/yellow]")
    if cross.get("agree") is False:
        console.print("[red]outputs differ beyond tolerance: a faster backend may be wrong[/red]")
    method = result.comparison[0]["ci_method"]
    tol = cross.get("tolerance", {})
    console.print(
        f"[dim]Ratio intervals: {escape(method)}. Outputs agree when max|d| <= "
        f"{tol.get('max_abs_diff_rel', '?')} x max|reference| and cosine >= {tol.get('cosine_min', '?')}.[/dim]"
    )


def _method(result: BenchResult) -> str:
    return str(result.runs[0].latency_ms.get("ci_method", "?")) if result.runs else "?"


def render_info(info: ModelInfo, console: Console, compute: Mapping[str, Any] | None = None) -> None:
    """Format, hash, size, parameters and MACs, and the inputs and outputs with dynamic dims marked."""
    console.print(f"[bold]{escape(str(info.path))}[/bold]  format={info.format}  size={info.size_bytes / 1e6:.2f} MB")
    console.print(f"sha256={info.sha256}")
    table = Table(show_header=True)
    for col in ("kind", "name", "element type", "shape (? = dynamic)"):
        table.add_column(col)
    for kind, specs in (("input", info.inputs), ("output", info.outputs)):
        for s in specs:
            table.add_row(kind, escape(s.name), s.dtype, escape(s.shape_text()))
    console.print(table)
    if compute and compute.get("available"):
        exact = "" if compute["exact"] else f" (lower bound: {len(compute['unresolved_nodes'])} nodes unresolved)"
        console.print(
            f"parameters {compute['params'] / 1e6:.2f} M; {compute['gmacs']:.3f} GMACs = "
            f"{compute['flops'] / 1e9:.3f} GFLOPs per inference at {escape(str(compute['shapes']))}{exact}"
        )
    elif compute:
        console.print(f"[dim]FLOPs not counted: {escape(str(compute.get('reason')))}[/dim]")
    meta = {k: v for k, v in info.metadata.items() if k != "inferperf.inputs"}
    for key, value in meta.items():
        console.print(f"[dim]{escape(key)}: {escape(value[:200])}[/dim]")


def _pct(fig: dict[str, Any]) -> str:
    lo, hi = fig["ci95"]
    return f"{fig['value'] * 100:.2f}% [{lo * 100:.2f}, {hi * 100:.2f}] ({fig['correct']} correct)"


def render_accuracy(doc: Mapping[str, Any], console: Console) -> None:
    """Top-1/top-5 with their exact intervals."""
    data = doc["data"]
    console.print(
        f"[bold]accuracy[/bold] of {escape(doc['model']['path'])} on {escape(data['source'])} "
        f"({data['count']} samples) through {doc['backend']}, batch {doc['batch']}, "
        f"executed precision {doc.get('executed_precision', 'f32')}"
    )
    if doc.get("executed_precision", "f32") != "f32":
        console.print(
            f"[yellow]{doc['backend']} ran {doc['executed_precision']}, the runtime's default on this CPU, not f32: "
            "--infer-precision f32 measures full-precision accuracy[/yellow]"
        )
    console.print(f"top-1 {_pct(doc['top1'])}")
    if doc.get("top5"):
        console.print(f"top-5 {_pct(doc['top5'])}")
    console.print(f"[dim]95% intervals: {doc['ci_method']}[/dim]")


def render_zoo(rows: list[dict[str, Any]], console: Console) -> None:
    """The zoo's entries."""
    table = Table(title="inferperf zoo (random weights, built offline; use as zoo:NAME)", title_justify="left")
    for col in ("name", "description", "inputs", "ref. GMACs", "cached"):
        table.add_column(col)
    for r in rows:
        ref = f"{r['reference_gmacs']:.2f}" if r["reference_gmacs"] else "-"
        table.add_row(
            r["name"], escape(r["description"]), escape("; ".join(r["inputs"])), ref, "yes" if r["cached"] else "no"
        )
    console.print(table)


def _render_peaks(doc: Mapping[str, Any], console: Console) -> None:
    """The measured matmul peaks (with their errors and notes) and the memory copy rate, when measured."""
    peak = doc.get("peak")
    if peak:
        console.print("[bold]measured matmul peaks[/bold] (all cores):")
        for key, value in peak.items():
            if isinstance(value, float):
                console.print(f"  {key}: {value:.1f}")
        for e in peak.get("errors", []):
            console.print(f"  [red]{escape(e)}[/red]")
        for n in peak.get("notes", []):
            console.print(f"  [yellow]{escape(n)}[/yellow]")
    if doc.get("memory"):
        console.print(
            f"[bold]memory[/bold]: copies at {doc['memory']['copy_gb_per_s']:.1f} GB/s (one thread, read + "
            "written): the ceiling of bandwidth-bound work such as an LLM's decode"
        )


def render_doctor(doc: Mapping[str, Any], console: Console) -> None:
    """Installed pieces, CPU, peaks, and warnings with advice."""
    cpu = doc["environment"]["cpu"]
    console.print(
        f"[bold]CPU[/bold] {escape(str(cpu['model']))}: {cpu['cores']} cores, {cpu['logical_cpus']} "
        f"logical; features: {', '.join(cpu['features']) or '-'}"
    )
    for name, item in doc["installed"].items():
        if item["installed"]:
            console.print(f"  [green]ok[/green] {name}: {', '.join(f'{k} {v}' for k, v in item['versions'].items())}")
        else:
            console.print(f"  [yellow]missing[/yellow] {name}: {escape(str(item['how']))}")
    for dev in doc.get("precisions", []):
        console.print(
            f"[bold]{escape(dev['device'])}[/bold] runs float models at {dev['default_inference_precision']} "
            f"by default ({escape(dev['source'])}; native: {', '.join(dev['native'])}); KV caches it takes "
            f"beside it: {', '.join(dev['kv_caches_accepted'])} (default {dev['default_kv_cache'] or 'n/a'})",
            highlight=False,
        )
    _render_peaks(doc, console)
    load = doc["load"]
    console.print(
        f"[bold]machine now[/bold]: load {load['loadavg_1m']:.2f}, steal {load['steal_percent']:.1f}%, "
        f"governor {load['governor'] or 'n/a'}, fixed-work CV {load['noise']['cv_percent']:.1f}%"
    )
    for w in doc["warnings"]:
        console.print(f"  [yellow]![/yellow] {escape(w['sign'])}: {escape(w['advice'])}")
    if not doc["warnings"]:
        console.print("  [green]no signs of a noisy machine[/green]")


def render_quantize(doc: Mapping[str, Any], console: Console) -> None:
    """Each INT8 candidate: guard figure, fidelity, speedup with its interval, verdict."""
    ref = doc["fp32"]
    guard = doc["guard"]
    calib = f"calibration {doc['calibration']['samples']} samples, " if "calibration" in doc else ""
    console.print(
        f"[bold]{doc['kind']}[/bold] {escape(doc['model']['path'])} with {doc['backend']}: {calib}"
        f"guard on {doc['held_out']['samples']} held-out ({guard}, max drop {doc['max_drop']})"
    )
    executed = ref.get("executed_precision", "f32")
    console.print(f"float reference executed in {executed} ({ref.get('precision_requested', 'runtime default')})")
    if ref.get("precision_note"):
        console.print(f"[yellow]{escape(ref['precision_note'])}[/yellow]")
    if "top1" in ref:
        console.print(f"float reference ({executed}) top-1 {ref['top1'] * 100:.2f}%")
    if ref.get("peak_memory_mb"):
        console.print(f"FP32 peak memory {ref['peak_memory_mb']:.0f} MiB (fresh process: compile + run)")
    table = Table(show_header=True)
    for col in (
        "candidate",
        "top-1",
        "drop",
        "cosine",
        "top-1 agree",
        "size MB",
        "peak MiB",
        "speed-up [95% CI]",
        "verdict",
    ):
        table.add_column(col, justify="left" if col in ("candidate", "verdict") else "right")
    for c in doc["candidates"]:
        fid = c["fidelity"]
        sp = c.get("speed", {}).get("throughput_speedup")
        speed = _ci(sp, suffix="x") if sp else "-"
        verdict = (
            ("[green]winner[/green]" if c["label"] == doc["winner"] else "accepted")
            if c["accepted"]
            else (f"[red]rejected[/red]: {escape(c['rejected_because'])}")
        )
        table.add_row(
            escape(c["label"]),
            f"{c['top1'] * 100:.2f}%" if "top1" in c else "-",
            f"{c['drop'] * 100:+.2f}%",
            f"{fid['cosine_mean']:.4f}",
            f"{fid['top1_agreement'] * 100:.1f}%",
            f"{c['size_bytes'] / 1e6:.2f}",
            f"{c['peak_memory_mb']:.0f}" if c.get("peak_memory_mb") else "-",
            speed,
            verdict,
        )
    console.print(table)
    if doc["winner"] is None:
        console.print(
            "[red]no candidate both passed the guard and was significantly faster: "
            "the original stays the recommendation[/red]"
        )
    for c in doc["candidates"]:
        _candidate_notes(c, console)
        if "per_group" in c["fidelity"]:
            _group_table(c, console)


def _group_table(c: dict[str, Any], console: Console) -> None:
    """--shapes: fidelity and speed per shape group, since either can hold at one size and slip at another."""
    speed = {g["group"]: g for g in c.get("speed", {}).get("per_group", [])}
    table = Table(title=f"{escape(c['label'])}: per shape group", show_header=True)
    for col in ("group", "held out", "cosine mean", "cosine min", "top-1 agree", "FP32 ms", "cand. ms", "speed-up"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for group, fid in c["fidelity"]["per_group"].items():
        sp = speed.get(group)
        med = sp["median_latency_ms"] if sp else {}
        up = sp["speedup"] if sp else None
        table.add_row(
            escape(group),
            str(fid["samples"]),
            f"{fid['cosine_mean']:.4f}",
            f"{fid['cosine_min']:.4f}",
            f"{fid['top1_agreement'] * 100:.1f}%",
            f"{med['fp32']:.1f}" if med else "-",
            f"{med['candidate']:.1f}" if med else "-",
            _ci(up, suffix="x") if up else "-",
        )
    console.print(table)


def _candidate_notes(c: dict[str, Any], console: Console) -> None:
    if c.get("written_to"):
        console.print(f"wrote {escape(c['written_to'])}")
    if c.get("recommended_config"):
        console.print(f"recommended runtime setting: {escape(str(c['recommended_config']))}")
    for key in ("note", "support"):
        text = c.get(key) or c.get("details", {}).get(key)
        if text and text != "native":
            console.print(f"[yellow]{escape(c['label'])}[/yellow]: {escape(str(text))}")
