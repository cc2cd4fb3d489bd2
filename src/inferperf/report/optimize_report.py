"""What ``inferperf optimize`` leaves for people: summary.md and report.html (self-contained)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inferperf.report.html import render_html
from inferperf.report.text import interval
from inferperf.results.schema import atomic_write_text


def _pct(x: float) -> str:
    return f"{x * 100 + 0.0:+.2f}%"  # + 0.0 turns -0.0 into 0.0


def _headline_lines(doc: Mapping[str, Any]) -> list[str]:
    h = doc["headline"]
    lines = []
    if "speedup" in h:
        sp = h["speedup"]
        lines.append(
            f"- **Throughput: {h['winner_fps']:.1f} inferences/s against the baseline's {h['baseline_fps']:.1f} "
            f"= x{sp['value']:.2f} [95% CI {interval(sp)[1:]}** (interleaved rounds, paired ratios)"
        )
    else:
        lines.append("- No verified speed-up (the verification step did not run; see the steps below).")
    if "accuracy_drop" in h:
        ok = "within" if h["accuracy_ok"] else "OVER"
        lines.append(f"- Top-1 change of the winner: {_pct(-h['accuracy_drop'])} ({ok} the allowed drop)")
    if h.get("executed_precision"):
        ran = "; ".join(f"{b} {', '.join(p)}" for b, p in h["executed_precision"].items())
        lines.append(f"- Float precision executed (as each runtime reports it): {ran}")
    if h.get("precision_note"):
        lines.append(f"- {h['precision_note']}")
    if h.get("winner"):
        w = h["winner"]
        settings = ", ".join(f"{k.removeprefix('property:')}={v}" for k, v in w["params"].items() if v is not None)
        lines.append(f"- Winner: {w['target']} ({settings or 'runtime defaults'})")
    return lines


def summary_markdown(doc: Mapping[str, Any]) -> str:
    """A short Markdown summary: headline, steps with status and time, files."""
    lines = [f"# inferperf optimize: {Path(doc['model']).name}", "", *_headline_lines(doc), ""]
    lines += ["| step | status | seconds | result |", "|---|---|---:|---|"]
    for s in doc["steps"]:
        status = s["status"] + (f": {s['error']}" if s.get("error") else "")
        lines.append(f"| {s['title']} | {status} | {s['seconds']:.0f} | {Path(s['path']).name if s['path'] else '-'} |")
    lines.append("")
    for name, path in doc.get("artifacts", {}).items():
        lines.append(f"- {name}: `{Path(path).name}`")
    if doc.get("interrupted"):
        lines.append("\n**Interrupted**: this summary covers the steps that finished.")
    lines.append(f"\nTotal time: {doc['wall_s']:.0f} s.")
    return "\n".join(lines) + "\n"


def _md_to_html(lines: list[str]) -> str:
    items = "".join(f"<li>{html.escape(line.removeprefix('- ')).replace('**', '')}</li>" for line in lines)
    return f"<ul>{items}</ul>"


def _steps_table(doc: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(s['title'])}</td><td class='{'error' if s['status'] == 'failed' else ''}'>"
        f"{html.escape(s['status'] + (': ' + s['error'] if s.get('error') else ''))}</td>"
        f"<td>{s['seconds']:.0f}</td></tr>"
        for s in doc["steps"]
    )
    return f"<table><tr><th>step</th><th>status</th><th>seconds</th></tr>{rows}</table>"


_SECTIONS = (
    ("verify", "Winner against the baseline (interleaved rounds)"),
    ("sweep", "Latency-throughput curve of the winner"),
    ("bench", "Latency distribution and throughput per backend"),
    ("coldstart", "First inference: phase breakdown"),
    ("memory", "Memory against throughput"),
    ("tune", "Tuning: trials and Pareto front"),
    ("quantize", "Accuracy against speed for each variant"),
)


def write_reports(doc: Mapping[str, Any], step_docs: Mapping[str, Mapping[str, Any]], out: Path) -> dict[str, str]:
    """summary.md and report.html into ``out``; returns their paths."""
    md = atomic_write_text(summary_markdown(doc), out / "summary.md")
    intro = _md_to_html(_headline_lines(doc)) + _steps_table(doc)
    sections: list[tuple[str, Mapping[str, Any] | None, str]] = []
    for name, title in _SECTIONS:
        if name in step_docs:
            dynamic = step_docs[name].get("kind") == "dynamic"  # --shapes: bench compares compile strategies
            shown = "Compile strategies on the shape stream: latency per group and throughput" if dynamic else title
            sections.append((shown, step_docs[name], ""))
    if "doctor" in step_docs:
        sections.append(("Machine", step_docs["doctor"], _warnings(step_docs["doctor"])))
    page = render_html(f"inferperf optimize: {Path(doc['model']).name}", sections, out / "report.html", intro)
    return {"summary": str(md), "report": str(page)}


def _warnings(doctor: Mapping[str, Any]) -> str:
    warnings = doctor.get("warnings") or []
    if not warnings:
        return "<p class='note'>No signs of a noisy machine at the start.</p>"
    items = [f"{w.get('sign')}: {w.get('advice')}" if isinstance(w, dict) else str(w) for w in warnings]
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"
