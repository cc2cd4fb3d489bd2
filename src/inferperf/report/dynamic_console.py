"""Console tables for ``inferperf dynamic`` (and ``bench --shapes``) results. Reads the result document only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.report.text import ci as _ci


def _groups_table(rec: dict[str, Any]) -> Table:
    table = Table(title=f"{rec['name']}: per shape group", title_justify="left")
    table.add_column("group")
    table.add_column("inputs", justify="right")
    table.add_column("median ms [95% CI]", justify="right")
    table.add_column("p90 ms [95% CI]", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("samples", justify="right")
    for g in rec["groups"]:
        lat = g["latency_ms"]
        table.add_row(
            escape(g["group"]),
            str(g["inputs"]),
            escape(_ci(lat["median"])),
            escape(_ci(lat["p90"])),
            f"{lat['p99']['value']:.2f}",
            str(lat["count"]),
        )
    return table


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _strategies_table(doc: Mapping[str, Any]) -> Table:
    table = Table(title="strategies on the same shape stream", title_justify="left")
    for col, just in (
        ("strategy", "left"),
        ("engines", "right"),
        ("throughput /s [95% CI]", "right"),
        ("median ms [95% CI]", "right"),
        ("p99 ms", "right"),
        ("compile ms", "right"),
        ("RSS added MB", "right"),
        ("padding waste", "right"),
        ("first sight", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for rec in doc["strategies"]:
        if rec["status"] != "ok":
            table.add_row(rec["name"], "", f"[red]failed: {escape(rec['error'])}[/red]", *[""] * 6)
            continue
        fs = rec["first_sight"]
        first = f"{fs['new_shapes']} new, x{fs['median_ratio']:.2f}" if fs["median_ratio"] is not None else "none"
        table.add_row(
            rec["name"],
            str(len(rec["engines"])),
            escape(_ci(rec["throughput"], 1)),
            escape(_ci(rec["latency_ms"]["median"])),
            f"{rec['latency_ms']['p99']['value']:.2f}",
            f"{rec['compile_ms']:.0f}",
            _mb(rec["memory_added_mb"]),
            f"{rec['padding_waste'] * 100:.1f}%",
            first,
        )
    return table


def render_dynamic(doc: Mapping[str, Any], console: Console) -> None:
    """Per-group tables of each strategy, the comparison table and the verdict."""
    stream = doc["stream"]
    console.print(
        f"[bold]{escape(doc['model']['path'])}[/bold] on {doc['backend']}: {stream['count']} inputs drawn from "
        f"{escape(doc['shapes']['source'])} (seed {stream['seed']}), {doc['options']['requests']} in flight, "
        f"{doc['options']['rounds']} rounds, strategies interleaved {doc['options'].get('interleave', 'per pass')}"
    )
    for rec in doc["strategies"]:
        if rec["status"] == "ok":
            console.print(_groups_table(rec))
    if len(doc["strategies"]) > 1 or any(r["status"] != "ok" for r in doc["strategies"]):
        console.print(_strategies_table(doc))
    for skip in doc.get("skipped", []):
        console.print(f"skipped {skip['name']}: {skip['reason']}")
    comp = doc["comparison"]
    for rival in comp.get("vs", []):
        mark = "significant" if rival["significant"] else "not significant"
        ratio = _ci({"value": rival["ratio"], "ci95": rival["ci95"]}, 3, prefix="x")
        console.print(f"  {comp['fastest']} / {rival['name']} throughput: {ratio} ({mark})")
    console.print(f"[bold]verdict:[/bold] {escape(comp['verdict'])}")
    console.print(
        "first sight = inputs whose shape the engine had not seen yet (timed in the warm pass), and the median "
        "ratio of their latency to their group's steady median"
    )
