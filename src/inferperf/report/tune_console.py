"""Console rendering of a tuning result: trials, front, verification and the recommendation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.report.text import ci, ratio

_SHOWN = 15


def _ci(stat: dict[str, Any] | None, digits: int = 1) -> str:
    """A figure with its interval; "-" when there is none, the value alone when it has no interval."""
    if not stat:
        return "-"
    return ci(stat, digits) if stat.get("ci95") else f"{stat['value']:.{digits}f}"


def _params(params: dict[str, Any]) -> str:
    if not params:
        return "defaults"
    return " ".join(f"{k.removeprefix('property:')}={v}" for k, v in params.items() if v is not None) or "all defaults"


def _trial_table(doc: Mapping[str, Any]) -> Table:
    objective = doc["options"]["objective"]
    ok = [t for t in doc["trials"] if t["status"] == "ok"]

    def key(t: dict[str, Any]) -> tuple[bool, float]:
        better = -t["throughput"]["value"] if objective == "throughput" else t["latency"]["median"]["value"]
        return not t["feasible"], float(better)

    ok.sort(key=key)
    front = set(doc.get("pareto") or [])
    table = Table(title=f"Trials (best {min(_SHOWN, len(ok))} of {len(doc['trials'])}; * = on the Pareto front)")
    for col in ("#", "rung", "target", "settings", "throughput fps [95% CI]", "p99 ms [95% CI]", "peak MB", "budget"):
        table.add_column(col, justify="right" if col in ("#", "rung", "peak MB") else "left")
    for t in ok[:_SHOWN]:
        table.add_row(
            f"{t['number']}{'*' if t['number'] in front else ''}",
            str(t["rung"]),
            escape(t["target"]),
            escape(_params(t["params"])),
            _ci(t["throughput"]),
            _ci(t["latency"]["p99"], 2),
            f"{t['peak_mb']:.0f}" if t.get("peak_mb") else "-",
            "ok" if t["feasible"] else escape("; ".join(t["violations"])),
        )
    return table


def _failures(doc: Mapping[str, Any], console: Console) -> None:
    failed = [t for t in doc["trials"] if t["status"] != "ok"]
    if failed:
        console.print(f"[yellow]{len(failed)} trial(s) failed and were skipped[/yellow], e.g.:")
        for t in failed[:3]:
            console.print(f"  #{t['number']} {escape(_params(t['params']))}: {escape(str(t['error']))[:160]}")


def _final(doc: Mapping[str, Any], console: Console) -> None:
    final = doc.get("final")
    if not final:
        return
    if "error" in final:
        console.print(f"[red]verification failed:[/red] {escape(str(final['error']))}")
        return
    table = Table(title=f"Verification: {final['rounds']} interleaved rounds of {final['seconds_per_round']:g} s")
    for col in ("candidate", "trial", "throughput fps (geo-mean of rounds)", "median ms [95% CI]", "p99 ms [95% CI]"):
        table.add_column(col)
    for label, number, cand in zip(final["labels"], final["trial_numbers"], final["candidates"], strict=True):
        rounds = cand["throughput_fps_per_round"]
        geo = 1.0
        for r in rounds:
            geo *= r
        table.add_row(
            label,
            str(number),
            f"{geo ** (1 / len(rounds)):.1f}",
            _ci(cand["latency_ms"]["median"], 2),
            _ci(cand["latency_ms"]["p99"], 2),
        )
    console.print(table)
    verdict = final["verdict"]
    console.print(escape(verdict["text"]))
    for row in verdict["against"]:
        sig = "significant" if row["significant"] else "not significant"
        console.print(f"  vs {row['against']}: {ratio(row)} ({sig})")


def _recommendation(doc: Mapping[str, Any], console: Console) -> None:
    rec = doc.get("recommendation")
    if not rec:
        console.print("[red]no configuration could be recommended[/red] (no trial succeeded)")
        return
    state = "verified" if rec["verified"] else "NOT verified"
    budget = "meets the budget" if rec["meets_constraints"] else "[red]does NOT meet the budget[/red]"
    console.print(
        f"[bold]Recommended[/bold] ({state}, {budget}): {escape(rec['target'])} {escape(_params(rec['params']))}"
    )
    ref = rec.get("vs_reference")
    if ref:
        what = "throughput" if doc["options"]["objective"] == "throughput" else "latency speed-up"
        console.print(f"  {what} vs the runtime's own defaults: {ratio(ref)}")
    for row in rec.get("explanation", [])[:6]:
        knob = row["knob"].removeprefix("property:")
        console.print(
            f"  {escape(knob)}={escape(str(row['winner']))} instead of {escape(str(row['neighbour']))}: "
            f"x{row['ratio']:.2f} (short trials)"
        )


def render_tune(doc: Mapping[str, Any], console: Console) -> None:
    """The trial table, failures, the verification, and the recommendation with its reasons."""
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in doc.get("stages_s", {}).items())
    console.print(
        f"space: {doc['space']['size']} configurations; measured {len(doc['trials'])} trials in "
        f"{doc['wall_s']:.0f} s ({stages})"
    )
    for skipped in doc.get("skipped_targets", []):
        console.print(f"  skipped {escape(skipped)}")
    if doc.get("shapes"):
        sh = doc["shapes"]
        groups = ", ".join(f"{escape(k)}: {v}" for k, v in sh["samples_per_group"].items())
        console.print(
            f"tuned for a shape stream ({escape(sh['source'])}): {sh['count']} inputs, one engine with open dims; "
            f"inputs per group: {groups}",
            highlight=False,
        )
    console.print(_trial_table(doc))
    _failures(doc, console)
    _final(doc, console)
    _recommendation(doc, console)
    if doc.get("interrupted"):
        console.print("[yellow]interrupted: the result holds every finished trial[/yellow]")


def _noise_line(doc: Mapping[str, Any]) -> str:
    """The threshold and the measured noise the verdicts stand on."""
    parts = [f"threshold {doc['threshold'] * 100:.1f}%"]
    if doc.get("rerun_noise") is not None:
        parts.append(f"noise between runs {doc['rerun_noise'] * 100:.1f}%")
    between = [v for v in (doc.get("invocation_noise") or {}).values()]
    if between:
        sd = sorted(v["relative_sd"] for v in between)
        runs = max(v["invocations"] for v in between)
        sources = sorted({str(v.get("source", "this configuration's recorded reruns")) for v in between})
        parts.append(
            f"between invocations {sd[0] * 100:.1f}-{sd[-1] * 100:.1f}% (from up to {runs} recorded invocations: "
            f"{'; '.join(sources)})"
        )
    return "; ".join(parts)


def _detectable(row: dict[str, Any]) -> str:
    mde = row.get("min_detectable")
    return f" (could see >= {mde * 100:.0f}% without drift)" if mde is not None else ""


def render_compare(doc: Mapping[str, Any], console: Console) -> None:
    """One row per run and metric: A, B, ratio B/A with its interval, what it covers, verdict."""
    table = Table(title=f"B / A ({_noise_line(doc)})", title_justify="left")
    for col in ("backend", "scenario", "metric", "A", "B", "B/A [95% CI]", "covers", "verdict"):
        table.add_column(col)
    colours = {"faster": "green", "slower": "red"}
    for r in doc["rows"]:
        colour = colours.get(r["verdict"], "white")
        table.add_row(
            r["backend"],
            r["scenario"],
            r["metric"],
            f"{r['a']:.3f}",
            f"{r['b']:.3f}",
            ratio(r).removeprefix("x"),
            str(r.get("covers", "rounds")),
            f"[{colour}]{r['verdict']}[/{colour}]" + _detectable(r),
        )
    console.print(table)
    if doc.get("warning"):
        console.print(f"[yellow]note:[/yellow] {escape(doc['warning'])}")
