"""Console tables of the start-up commands: coldstart (read, compile, first inference, with and without a
model cache) and memory (RSS per phase)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.report.text import ci

_BAR = 40  # characters of a stacked phase bar


def _stacked(parts: list[tuple[str, float | None, str]], total: float) -> str:
    bar = ""
    for _, value, style in parts:
        if value:
            bar += f"[{style}]" + "█" * max(1, round(value / total * _BAR)) + f"[/{style}]"
    return bar


def render_coldstart(doc: Mapping[str, Any], console: Console) -> None:
    """Per variant: median phases with intervals, and a stacked read / compile / first-inference bar."""
    table = Table(
        title=f"inferperf coldstart ({doc['backend']}, {doc['runs_per_variant']} fresh processes each; "
        "median [95% CI] ms)",
        title_justify="left",
    )
    for col in ("variant", "import", "read", "compile", "1st inf.", "2nd inf.", "to 1st result", "breakdown"):
        table.add_column(col, justify="left" if col in ("variant", "breakdown") else "right")
    longest = (
        max((v["phases"].get("time_to_first_result_ms", {}).get("value", 0) for v in doc["variants"]), default=1.0)
        or 1.0
    )
    for v in doc["variants"]:
        p = v["phases"]

        def cell(name: str, p: dict[str, Any] = p) -> str:
            if name not in p:
                return "-"
            return ci(p[name], 0)

        bar = _stacked(
            [
                ("read", p.get("read_ms", {}).get("value"), "cyan"),
                ("compile", p.get("compile_ms", {}).get("value"), "magenta"),
                ("first", p.get("first_inference_ms", {}).get("value"), "green"),
            ],
            longest,
        )
        failed = f" ({len(v['failures'])} failed)" if v["failures"] else ""
        table.add_row(
            escape(v["label"]) + failed,
            cell("import_ms"),
            cell("read_ms"),
            cell("compile_ms"),
            cell("first_inference_ms"),
            cell("second_inference_ms"),
            cell("time_to_first_result_ms"),
            bar,
        )
    console.print(table)
    console.print(
        "[dim]bars: [cyan]read[/cyan] [magenta]compile[/magenta] [green]first inference[/green] (medians, "
        "to scale across variants); 'to 1st result' counts from process launch[/dim]"
    )
    other = doc.get("cache_speedup_other_routes", {})
    routes = {"": doc.get("cache_speedup", {}), **{f" ({k})": v for k, v in other.items()}}
    for route, figures in routes.items():
        for phase, s in figures.items():
            verdict = "significant" if s["significant"] else "NOT significant (interval includes 1)"
            console.print(
                f"warm-cache speedup of {phase.replace('_', ' ')}{escape(route)}: {ci(s, suffix='x')} {verdict}"
            )
    _coldstart_failures(doc, console)
    if "shapes" in doc:
        _coldstart_groups(doc, console)


def _coldstart_failures(doc: Mapping[str, Any], console: Console) -> None:
    for v in doc["variants"]:
        for f in sorted(set(v["failures"])):
            times = v["failures"].count(f)
            skipped = " (variant skipped in later rounds)" if v.get("skipped") else ""
            console.print(f"[red]failed[/red] {escape(v['label'])} x{times}{skipped}: {escape(f)}")
    for lack in doc.get("runtime_lacks", []):
        console.print(f"[yellow]{doc['backend']} lacks[/yellow] {escape(lack)}")


def _coldstart_groups(doc: Mapping[str, Any], console: Console) -> None:
    """--shapes: the first inference at each group's shape (new to the engine) against the second."""
    table = Table(
        title=f"first sight of each shape group, open dims ({escape(doc['shapes']['spec'])}; medians over runs)",
        title_justify="left",
    )
    for col in ("variant", "group", "first ms", "second ms", "first / second [95% CI]"):
        table.add_column(col, justify="left" if col in ("variant", "group") else "right")
    for v in doc["variants"]:
        for g in v.get("groups", []):
            r = g["first_over_second"]
            table.add_row(
                escape(v["label"]),
                escape(g["group"]),
                f"{g['first_ms']['value']:.1f}",
                f"{g['second_ms']['value']:.1f}",
                ci(r, prefix="x"),
            )
    console.print(table)
    console.print("[dim]the first group's first inference is the process's first; the others follow it[/dim]")


def render_memory(doc: Mapping[str, Any], console: Console) -> None:
    """Memory per phase next to throughput, one row per configuration."""
    table = Table(
        title=f"inferperf memory ({doc['backend']}; MiB resident, each row a fresh process)", title_justify="left"
    )
    cols = (
        "model",
        "config",
        "after import",
        "after read",
        "compile peak",
        "after compile",
        "1st inf. peak",
        "steady peak",
        "peak",
        "leak /1000 inf.",
        "FPS",
    )
    for col in cols:
        table.add_column(col, justify="left" if col in ("model", "config") else "right")
    for r in doc["rows"]:
        name = Path(r["model"]).name
        if not r["ok"]:
            table.add_row(escape(name), escape(r["label"]), f"[red]failed: {escape(str(r['error']))[:60]}[/red]")
            continue

        def mb(key: str, r: dict[str, Any] = r) -> str:
            value = r.get(key)
            return "-" if value is None else f"{value:.0f}"

        leak = r["leak"]
        table.add_row(
            escape(name),
            escape(r["label"]),
            mb("after_import_mb"),
            mb("after_read_mb"),
            mb("compile_peak_mb"),
            mb("after_compile_mb"),
            mb("first_inference_peak_mb"),
            mb("steady_peak_mb"),
            mb("peak_mb"),
            f"{leak['growth_mb_per_1000']:+.1f} ({leak['iterations']})",
            f"{r['throughput_fps']:.1f}",
        )
    console.print(table)
    if "shapes" in doc:
        _memory_stream(doc, console)
    console.print(f"[dim]{escape(doc['method'])}[/dim]")


def _memory_stream(doc: Mapping[str, Any], console: Console) -> None:
    """--shapes: what meeting new shapes costs, apart from the steady state that follows."""
    sh = doc["shapes"]
    groups = ", ".join(f"{escape(g)}: {n}" for g, n in sh["samples_per_group"].items())
    console.print(f"shape stream {escape(sh['spec'])}: {sh['count']} inputs ({groups}); one engine with open dims")
    for r in doc["rows"]:
        st = r.get("stream")
        if not r["ok"] or not st:
            continue
        console.print(
            f"  {escape(Path(r['model']).name)} / {escape(r['label'])}: first pass over {st['distinct_shapes']} "
            f"distinct shapes {st['first_pass_growth_mb']:+.0f} MiB: the largest input first "
            f"{st['largest_input_growth_mb']:+.0f} MiB (buffers at the top size), the {st['other_new_shapes']} "
            f"other new shapes {st['other_shapes_growth_mb']:+.0f} MiB; peak "
            f"{r.get('first_pass_peak_mb') or 0:.0f} MiB; then cycling the stream "
            f"{r['leak']['growth_mb_per_1000']:+.1f} MiB per 1000 inferences"
        )
