"""Console tables for ``inferperf e2e`` results. Reads the result document only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.report.text import ci as _ci


def _stage_table(title: str, stages: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("stage")
    table.add_column("median ms [95% CI]", justify="right")
    table.add_column("mean ms", justify="right")
    table.add_column("share", justify="right")
    for name, row in stages.items():
        table.add_row(name, escape(_ci(row["median"], 3)), f"{row['mean']:.3f}", f"{row['share'] * 100:.1f}%")
    return table


def _modes_table(doc: Mapping[str, Any]) -> Table:
    seq, piped = doc["sequential"], doc["pipelined"]
    table = Table(title="sequential vs pipelined (end to end, per input)", title_justify="left")
    table.add_column("mode")
    table.add_column("latency median ms [95% CI]", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("throughput FPS [95% CI]", justify="right")
    table.add_column("set-up")
    table.add_row(
        "sequential",
        escape(_ci(seq["e2e_ms"]["median"])),
        f"{seq['e2e_ms']['p99']['value']:.2f}",
        escape(_ci(seq["throughput_fps"], 1)),
        "one input at a time, latency config",
    )
    table.add_row(
        "pipelined",
        escape(_ci(piped["latency_ms"]["median"])),
        f"{piped['latency_ms']['p99']['value']:.2f}",
        escape(_ci(piped["throughput_fps"], 1)),
        f"{piped['prep_threads']} pre-processing thread(s), queue {piped['queue_size']}, "
        f"{piped['requests']} async requests",
    )
    return table


def _fused_lines(fused: dict[str, Any]) -> list[str]:
    agree, speed = fused["agreement"], fused["speedup"]
    model = fused.get("model", {})
    saved = f", saved to {model['path']}" if model.get("saved") else ""
    return [
        f"fused pre-processing: {model.get('method', '?')} (resize: {model.get('resize_op', '?')}){saved}",
        f"  agreement with host pre-processing over {agree['inputs']} inputs: top-1 identical "
        f"{agree['top1_agreement'] * 100:.1f}%, cosine min {agree['cosine_min']:.6f}, "
        f"max |diff| {agree['max_abs_diff']:.4g} (outputs up to {agree['max_abs_output']:.4g})",
        f"  end-to-end speed-up host/fused: {_ci(speed, 3)} -> {speed['verdict']}; pre-processing + inference "
        f"alone: {_ci(fused['preprocess_and_infer_speedup'], 3)}",
    ]


def render_e2e(doc: Mapping[str, Any], console: Console) -> None:
    """Stage breakdown, sequential vs pipelined, and the fused pre-processing comparison."""
    seq = doc["sequential"]
    console.print(
        f"[bold]inferperf e2e[/bold] {escape(str(doc['model']['path']))} on {doc['backend']}, "
        f"decoder {doc['decoder']}, {doc['inputs']['count']} inputs from {escape(doc['inputs']['source'])}"
    )
    console.print(
        _stage_table(f"host path stages ({seq['count']} inputs, post-processing: {doc['postprocess']})", seq["stages"])
    )
    console.print(
        f"stage medians sum to {seq['stage_median_sum_ms']:.3f} ms; measured end-to-end median "
        f"{seq['e2e_ms']['median']['value']:.3f} ms (ratio {seq['stage_sum_over_e2e']:.3f})"
    )
    console.print(_modes_table(doc))
    console.print(f"pipelined throughput / sequential: {doc['pipelined']['throughput_vs_sequential']:.2f}x")
    if "fused" in doc:
        console.print(_stage_table("fused path stages", doc["fused"]["stages"]))
        for line in _fused_lines(doc["fused"]):
            console.print(escape(line))
