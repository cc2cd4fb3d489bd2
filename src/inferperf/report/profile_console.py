"""Console rendering of ``inferperf profile`` documents. Reads result documents; knows nothing of runtimes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.report.text import ci, interval

_NAME_WIDTH = 56
_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "info": "cyan"}


def _short(name: str, width: int = _NAME_WIDTH) -> str:
    # Layer names are paths (/encoder/stages.3/layers.0/...); their tail says which layer it is.
    return name if len(name) <= width else "..." + name[-(width - 3) :]


def _pct(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{x * 100:.1f}%"


def _ms(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def _layers_table(profile: dict[str, Any], top: int) -> Table:
    table = Table(
        title=f"layers by time (top {min(top, len(profile['layers']))} of {len(profile['layers'])} executed)",
        title_justify="left",
    )
    for col, just in (("#", "right"), ("layer", "left"), ("type", "left"), ("kernel", "left"), ("prec", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for col in ("mean ms", "share", "cum."):
        table.add_column(col, justify="right")
    cum = 0.0
    for i, layer in enumerate(profile["layers"][:top], 1):
        cum += layer["share"]
        kernel = layer["kernel"] + (" [red](slow)[/red]" if layer.get("slow_path") else "")
        table.add_row(
            str(i),
            escape(_short(layer["name"])),
            escape(layer["op_type"]),
            kernel if layer.get("slow_path") else escape(kernel),
            layer["precision"],
            _ms(layer["mean_ms"]),
            _pct(layer["share"]),
            _pct(cum),
        )
    return table


def _groups_table(groups: list[dict[str, Any]], key: str, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(key.replace("_", " "))
    for col in ("layers", "mean ms", "share"):
        table.add_column(col, justify="right")
    table.add_column("precisions")
    for g in groups:
        precisions = ", ".join(f"{k} x{v}" for k, v in g["precisions"].items())
        table.add_row(escape(str(g[key])), str(g["layers"]), _ms(g["mean_ms"]), _pct(g["share"]), precisions)
    return table


def _totals_lines(doc: Mapping[str, Any]) -> list[str]:
    tot = doc["profile"]["totals"]
    lat = tot["latency_ms"]
    lines = [
        f"sum of layer times {_ms(tot['layer_sum_ms'])} ms vs latency of the same inferences: mean "
        f"{_ms(lat['mean'])} ms, median {_ms(lat['value'])} ms {interval(lat, 3)}",
        f"gap {_ms(tot['gap_ms'])} ms ({_pct(tot['gap_share'])} of the mean): time outside the layers "
        "(runtime scheduling, input/output handling, the call itself)",
    ]
    ref = doc.get("reference")
    if ref:
        off = interval({"ci95": ref["latency_median_ci95"]}, 3)
        lines.append(
            f"latency-mode median with counters off {_ms(ref['latency_median_ms'])} ms {off}: "
            f"layer sum is {_pct(ref['layer_sum_over_latency'])} of it; counters on vs off "
            f"{ref['profiling_overhead'] * 100:+.1f}%"
        )
    lines.append(f"latency: {tot['latency_source']}; first inference {_ms(tot['first_inference_ms'], 1)} ms")
    return lines


def _precision_lines(report: dict[str, Any]) -> list[str]:
    shares = ", ".join(f"{k} {_pct(v)}" for k, v in report["compute_share_by_precision"].items())
    lines = [f"compute time (conv/matmul) by precision: {shares or '-'}"]
    if report["quantized"]:
        lines.append(
            f"quantized model: {_pct(report['low_precision_compute_share'])} of compute time in low precision, "
            f"{_pct(report['float_compute_share'])} still floating point"
        )
        for layer in report["float_compute_layers"][:5]:
            lines.append(
                f"  float: {escape(_short(layer['name']))} ({layer['op_type']}, {layer['kernel']}) "
                f"{_ms(layer['mean_ms'])} ms, {_pct(layer['share_of_compute'])} of compute"
            )
    return lines


def render_findings(findings: list[dict[str, Any]], console: Console) -> None:
    """Each finding with its severity, evidence and what to try."""
    if not findings:
        console.print("[green]diagnosis:[/green] nothing stands out: time is in compute layers on optimized kernels")
        return
    console.print("[bold]diagnosis[/bold]")
    for f in findings:
        style = _SEVERITY_STYLE.get(f["severity"], "")
        console.print(f"[{style}]{f['severity']}[/{style}] {escape(f['title'])}")
        console.print(f"    evidence: {escape(f['evidence'])}")
        console.print(f"    try: {escape(f['try'])}")


def render_profile(doc: Mapping[str, Any], console: Console, top: int = 15) -> None:
    """Layer table, op-type table, layer sum vs latency, precision report and diagnosis."""
    prof = doc["profile"]
    console.print(
        f"[bold]inferperf profile[/bold]: {escape(str(doc['model']['path']))} on {doc['backend']}, "
        f"{prof['iterations']} inferences"
    )
    console.print(_layers_table(prof, top))
    console.print(_groups_table(prof["by_op_type"][:top], "op_type", "by op type"))
    for line in _totals_lines(doc):
        console.print(line)
    console.print(_groups_table(prof["precision"]["by_precision"], "precision", "by precision"))
    for line in _precision_lines(prof["precision"]):
        console.print(line)
    skipped = ", ".join(f"{k} {v}" for k, v in prof["skipped_layers"].items())
    if skipped:
        console.print(f"[dim]layers not executed (fused or optimized out): {skipped}[/dim]")
    render_findings(doc["findings"], console)
    for note in prof["notes"]:
        console.print(f"[dim]{escape(note)}[/dim]")


def _speedup(row: dict[str, Any]) -> str:
    sp = row.get("speedup")
    if not sp:
        return "-"
    return ci(sp, suffix="x")


def render_profile_compare(doc: Mapping[str, Any], console: Console, top: int = 15) -> None:
    """Per-layer side by side (A vs B) with speed-ups, the op-type view, and each side's findings."""
    a, b, cmp = doc["a"], doc["b"], doc["comparison"]
    name_a, name_b = str(a["model"]["path"]), str(b["model"]["path"])
    console.print(f"[bold]inferperf profile --compare[/bold] on {doc['backend']}")
    console.print(f"  A = {escape(name_a)}\n  B = {escape(name_b)}")
    table = Table(title=f"per layer, A's hottest {top} (speed-up = A / B)", title_justify="left")
    for col in ("layer", "type"):
        table.add_column(col)
    for col in ("A ms", "A prec", "B ms", "B prec", "speed-up [95% CI]"):
        table.add_column(col, justify="right")
    for row in cmp["rows"][:top]:
        table.add_row(
            escape(_short(str(row["name"]), 48)),
            escape(str(row["op_type"])),
            _ms(row["a_ms"]),
            str(row["a_precision"] or "-"),
            _ms(row["b_ms"]),
            str(row["b_precision"] or "-"),
            _speedup(row),
        )
    console.print(table)
    ops = Table(title="by op type", title_justify="left")
    for col in ("op type", "A ms", "B ms", "speed-up"):
        ops.add_column(col, justify="left" if col == "op type" else "right")
    for g in cmp["by_op_type"][:top]:
        speed = "-" if g["speedup"] is None else f"{g['speedup']:.2f}x"
        ops.add_row(escape(str(g["op_type"])), _ms(g["a_ms"]), _ms(g["b_ms"]), speed)
    console.print(ops)
    lat = cmp["latency_speedup"]
    console.print(
        f"latency speed-up (medians) {ci(lat, suffix='x')}; "
        f"summed layer time {cmp['layer_sum_speedup']:.2f}x; {cmp['faster']} layers at least "
        f"{cmp['faster_at']:.1f}x faster"
    )
    if cmp["not_faster"]:
        shown = ", ".join(escape(_short(n, 40)) for n in cmp["not_faster"][:8])
        console.print(f"[yellow]not faster[/yellow] (>=1% of A's time, < {cmp['faster_at']:.1f}x): {shown}")
    if cmp["only_a"] or cmp["only_b"]:
        console.print(f"[dim]unmatched layers: {len(cmp['only_a'])} only in A, {len(cmp['only_b'])} only in B[/dim]")
    for label, side in (("A", a), ("B", b)):
        console.print(f"[bold]{label}[/bold]: " + _precision_lines(side["profile"]["precision"])[0])
        render_findings(side["findings"], console)
    console.print(f"[dim]{escape(cmp['method'])}[/dim]")


def render_profile_shapes(doc: Mapping[str, Any], console: Console, top: int) -> None:
    """Per shape group: layer sum against latency; per op type: time at each group and its growth exponent."""
    groups = doc["groups"]
    console.print(
        f"[bold]inferperf profile[/bold] {escape(str(doc['model']['path']))} on {escape(doc['backend'])}, "
        f"{len(groups)} shape groups ({escape(doc['shapes']['spec'])})",
        highlight=False,
    )
    for g in groups:
        t = g["totals"]
        console.print(
            f"  {escape(g['group'])}: {g['iterations']} profiled inferences, layer sum {_ms(t['layer_sum_ms'], 2)} ms, "
            f"median latency {_ms(t['latency_ms']['value'], 2)} ms",
            highlight=False,
        )
    table = Table(title="time per op type (mean ms per inference) and its growth with the input", title_justify="left")
    table.add_column("op type")
    for g in groups:
        table.add_column(escape(g["group"]), justify="right")
    table.add_column("share (largest)", justify="right")
    table.add_column("growth exponent", justify="right")
    for row in doc["scaling"][: top + 1]:
        slope = row["growth_exponent"]
        table.add_row(
            escape(row["op_type"]),
            *(_ms(v, 2) for v in row["mean_ms"]),
            _pct(row["share"][-1]),
            "-" if slope is None else f"{slope:.2f}",
        )
    console.print(table)
    overall = doc["scaling"][0]["growth_exponent"]
    if overall is not None:
        faster = [
            r["op_type"]
            for r in doc["scaling"][1:]
            if r["growth_exponent"] is not None and r["growth_exponent"] > overall + 0.25 and r["share"][-1] >= 0.02
        ]
        console.print(
            f"[dim]growth exponent: slope of log(time) against log(input elements); 1 grows like the input, "
            f"2 quadratically. All layers: {overall:.2f}.[/dim]"
        )
        if faster:
            console.print("grows faster than the model as a whole: " + escape(", ".join(faster)), highlight=False)
