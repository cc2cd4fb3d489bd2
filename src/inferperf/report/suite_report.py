"""The suite's matrix: console table, Markdown, CSV and a self-contained HTML page.

Rows are model x variant x backend; columns are median and p99 latency, throughput
(each with its 95% interval), the ratios against the reference column (same model,
reference backend and variant) with block-bootstrap intervals and verdicts, and the
achieved fraction of the machine's measured peak where bench's ``compute`` block has it.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.errors import InferperfError
from inferperf.report.compare import judge
from inferperf.report.plots import ci_bar, err_triple, figure
from inferperf.report.text import ci
from inferperf.results.schema import items_per_inference
from inferperf.stats import bootstrap_ratio_ci, window_rates

_HEADERS = (
    "model",
    "variant",
    "backend",
    "status",
    "median ms [95% CI]",
    "p99 ms",
    "throughput FPS [95% CI]",
    "tput vs ref [95% CI]",
    "latency vs ref [95% CI]",
    "% of peak",
)


# ---------------------------------------------------------------- ratios against the reference column


def _run(doc: Mapping[str, Any], scenario: str) -> dict[str, Any] | None:
    runs = {r["scenario"]: r for r in doc.get("runs", [])}
    return runs.get(scenario) or next(iter(runs.values()), None)


def _samples(run: dict[str, Any], metric: str) -> NDArray[np.float64]:
    samples = run.get("samples") or {}
    if metric == "throughput":
        return window_rates(samples.get("completed_at_s", [])) * items_per_inference(run)
    return np.asarray(samples.get("latency_ms", []), dtype=float)


_METRICS: dict[str, tuple[str, Callable[[NDArray[np.float64]], float], bool]] = {
    # metric -> (scenario it comes from, statistic, higher is better)
    "throughput": ("throughput", lambda w: float(np.mean(w)), True),
    "latency_median": ("latency", lambda x: float(np.quantile(x, 0.5)), False),
}


class VsReference(TypedDict):
    """A cell's metric against its reference cell's: B/A, its bootstrap interval, the verdict."""

    ratio: float
    ci95: list[float]
    verdict: str


def _ratio(ref: dict[str, Any], doc: dict[str, Any], metric: str, threshold: float) -> VsReference | None:
    scenario, stat, higher = _METRICS[metric]
    run_a, run_b = _run(ref, scenario), _run(doc, scenario)
    if run_a is None or run_b is None:
        return None
    xa, xb = _samples(run_a, metric), _samples(run_b, metric)
    if xa.size < 2 or xb.size < 2:
        return None
    ci = bootstrap_ratio_ci(xa, xb, stat)
    return {"ratio": ci.value, "ci95": [ci.low, ci.high], "verdict": judge(ci, higher, threshold)}


def _load(path: str | None) -> dict[str, Any] | None:
    """A cell's document as written, read through its type (None: no file, or not a readable result)."""
    from inferperf.results import documents

    if not path:
        return None
    try:
        return documents.load(path).to_dict()
    except InferperfError:
        return None


def add_ratios(suite: dict[str, Any], threshold: float = 0.02) -> None:
    """Each measured cell (in ``suite``) against its model's reference cell: ratio, 95% interval and verdict
    per metric, as the cell's ``vs_reference``."""
    ref = suite["reference"]
    measured = [c for c in suite["cells"] if c.get("file")]
    refs = {
        c["model"]: _load(c["file"])
        for c in measured
        if c["backend"] == ref["backend"] and c["variant"] == ref["variant"]
    }
    for cell in measured:
        base, doc = refs.get(cell["model"]), _load(cell["file"])
        if base is None or doc is None:
            cell["vs_reference"] = None
            continue
        cell["vs_reference"] = {m: _ratio(base, doc, m, threshold) for m in _METRICS}


# ---------------------------------------------------------------- rows


def _ci(stat: dict[str, Any] | None, digits: int = 2) -> str:
    """A figure with its interval; "-" when there is none, the value alone when it has no interval."""
    if not stat:
        return "-"
    return ci(stat, digits) if stat.get("ci95") else f"{stat['value']:.{digits}f}"


def _vs(cell: dict[str, Any], metric: str) -> str:
    r = (cell.get("vs_reference") or {}).get(metric)
    if not r:
        return "-"
    mark = {"faster": " +", "slower": " -"}.get(r["verdict"], " ~")
    return ci({"value": r["ratio"], "ci95": r["ci95"]}, suffix="x") + mark


def _peak(summary: dict[str, Any]) -> str:
    parts = []
    if summary.get("fraction_of_peak") is not None:
        parts.append(f"{summary['fraction_of_peak'] * 100:.0f}% fp32")
    if summary.get("fraction_of_int8_peak") is not None:
        parts.append(f"{summary['fraction_of_int8_peak'] * 100:.0f}% int8")
    return ", ".join(parts) or "-"


def rows(suite: Mapping[str, Any]) -> list[list[str]]:
    """One row of text per cell, in the order of ``_HEADERS``."""
    out = []
    for cell in suite["cells"]:
        if _generative(cell):
            continue
        s = cell.get("summary") or {}
        status = _status(cell)
        out.append(
            [
                cell["model"],
                cell["variant"],
                cell["backend"],
                status,
                _ci(s.get("latency_median_ms")),
                _ci(s.get("latency_p99_ms")).split(" ")[0],
                _ci(s.get("throughput_fps"), 1),
                _vs(cell, "throughput"),
                _vs(cell, "latency_median"),
                _peak(s),
            ]
        )
    return out


_LLM_HEADERS = (
    "model",
    "variant",
    "backend",
    "status",
    "TTFT median ms [95% CI]",
    "TTFT p99 ms",
    "TPOT median ms [95% CI]",
    "TPOT p99 ms",
    "decode tokens/s [95% CI]",
)
_LLM_LEGEND = (
    "Decoder LLMs, one request at a time: {prompt} prompt tokens, {new} new tokens (EOS ignored); TTFT from the "
    "generate call to the first token, TPOT the mean gap after the first token (inferperf generate)."
)


def _generative(cell: dict[str, Any]) -> bool:
    return bool(cell["backend"] == "openvino-genai")


def _status(cell: dict[str, Any]) -> str:
    return cell["status"] if not cell.get("error") else f"{cell['status']}: {cell['error']}"


def llm_rows(suite: Mapping[str, Any]) -> list[list[str]]:
    """One row of text per decoder-LLM cell, in the order of ``_LLM_HEADERS``."""
    out = []
    for cell in suite["cells"]:
        if not _generative(cell):
            continue
        s = cell.get("summary") or {}
        out.append(
            [
                cell["model"],
                cell["variant"],
                cell["backend"],
                _status(cell),
                _ci(s.get("ttft_median_ms")),
                _ci(s.get("ttft_p99_ms")).split(" ")[0],
                _ci(s.get("tpot_median_ms"), 3),
                _ci(s.get("tpot_p99_ms"), 3).split(" ")[0],
                _ci(s.get("decode_tokens_per_s"), 1),
            ]
        )
    return out


def _llm_legend(suite: Mapping[str, Any]) -> str:
    s = next((c["summary"] for c in suite["cells"] if _generative(c) and c.get("summary")), None) or {}
    return _LLM_LEGEND.format(prompt=s.get("prompt_tokens", "?"), new=s.get("new_tokens", "?"))


def _title(suite: Mapping[str, Any]) -> str:
    ref = suite["reference"]
    return f"inferperf suite ({suite['executor']}); reference: {ref['backend']}:{ref['variant']}"


_LEGEND = (
    "Ratios are cell / reference (same model) with 95% block-bootstrap intervals; throughput ratio > 1 and "
    "latency ratio < 1 are better; + faster, - slower, ~ no significant difference (2% noise floor). "
    "% of peak: effective GFLOP/s (model FLOPs x throughput) over the measured matmul peak of `inferperf doctor`; "
    "fast convolution algorithms can exceed 100%."
)


def render_console(suite: Mapping[str, Any], console: Console) -> None:
    """The matrix as a rich table."""
    table = Table(title=escape(_title(suite)), title_justify="left")
    for h in _HEADERS:
        table.add_column(h, justify="left" if h in ("model", "variant", "backend", "status") else "right")
    cnn = rows(suite)
    for row in cnn:
        table.add_row(*(escape(v) for v in row))
    if cnn:
        console.print(table)
        console.print(_LEGEND, style="dim")
    llm = llm_rows(suite)
    if llm:
        second = Table(title="decoder LLMs", title_justify="left")
        for h in _LLM_HEADERS:
            second.add_column(h, justify="left" if h in ("model", "variant", "backend", "status") else "right")
        for row in llm:
            second.add_row(*(escape(v) for v in row))
        console.print(second)
        console.print(_llm_legend(suite), style="dim")


def to_markdown(suite: Mapping[str, Any]) -> str:
    """The matrix as a Markdown table, with its legend and variants."""
    lines = [f"# {_title(suite)}", "", "| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
    lines += ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in rows(suite)]
    lines += ["", _LEGEND]
    llm = llm_rows(suite)
    if llm:
        lines += ["", "## Decoder LLMs", "", "| " + " | ".join(_LLM_HEADERS) + " |", "|" + "---|" * len(_LLM_HEADERS)]
        lines += ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in llm]
        lines += ["", _llm_legend(suite)]
    lines += ["", "## Variants", ""]
    for v in suite.get("variants", []):
        fid = (v.get("details") or {}).get("fidelity")
        extra = f", cosine {fid['cosine_mean']:.4f}, top-1 agreement {fid['top1_agreement']:.3f}" if fid else ""
        what = v.get("error") or f"{v['format']} {v['path']}{extra}"
        lines.append(f"- {v['model']} {v['variant']}: {what}")
    return "\n".join(lines) + "\n"


_CSV_FIELDS = (
    "model",
    "variant",
    "backend",
    "status",
    "error",
    "latency_median_ms",
    "latency_median_lo",
    "latency_median_hi",
    "latency_p99_ms",
    "throughput_fps",
    "throughput_lo",
    "throughput_hi",
    "throughput_vs_ref",
    "throughput_vs_ref_lo",
    "throughput_vs_ref_hi",
    "throughput_verdict",
    "latency_vs_ref",
    "latency_vs_ref_lo",
    "latency_vs_ref_hi",
    "latency_verdict",
    "effective_gflops",
    "fraction_of_peak",
    "fraction_of_int8_peak",
    "ttft_median_ms",
    "ttft_p99_ms",
    "tpot_median_ms",
    "tpot_p99_ms",
    "decode_tokens_per_s",
    "node",
    "file",
)


def _triple(stat: dict[str, Any] | None, key: str = "value") -> list[Any]:
    if not stat:
        return [None, None, None]
    lo, hi = stat.get("ci95") or [None, None]
    return [stat.get(key), lo, hi]


def _csv_row(cell: dict[str, Any]) -> list[Any]:
    s = cell.get("summary") or {}
    vs = cell.get("vs_reference") or {}
    tput, lat = vs.get("throughput"), vs.get("latency_median")
    return [
        cell["model"],
        cell["variant"],
        cell["backend"],
        cell["status"],
        cell.get("error"),
        *_triple(s.get("latency_median_ms")),
        (s.get("latency_p99_ms") or {}).get("value"),
        *_triple(s.get("throughput_fps")),
        *_triple(tput, "ratio"),
        (tput or {}).get("verdict"),
        *_triple(lat, "ratio"),
        (lat or {}).get("verdict"),
        (s.get("effective_gflops") or {}).get("value"),
        s.get("fraction_of_peak"),
        s.get("fraction_of_int8_peak"),
        *((s.get(k) or {}).get("value") for k in ("ttft_median_ms", "ttft_p99_ms", "tpot_median_ms", "tpot_p99_ms")),
        (s.get("decode_tokens_per_s") or {}).get("value"),
        (cell.get("node") or {}).get("node_id"),
        cell.get("file"),
    ]


def to_csv(suite: Mapping[str, Any]) -> str:
    """One CSV line per cell, numbers as numbers (empty when absent)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_CSV_FIELDS)
    for cell in suite["cells"]:
        writer.writerow(["" if v is None else v for v in _csv_row(cell)])
    return buf.getvalue()


# ---------------------------------------------------------------- HTML


def _bars(suite: Mapping[str, Any], key: str, title: str, axis: str) -> Any:
    """Grouped bars per model, one group member per backend:variant, error bars the 95% intervals."""
    series: dict[str, list[dict[str, Any]]] = {}
    for cell in suite["cells"]:
        if (cell.get("summary") or {}).get(key):
            series.setdefault(f"{cell['backend']}:{cell['variant']}", []).append(cell)
    traces = [
        ci_bar([c["model"] for c in group], [err_triple(c["summary"][key]) for c in group], name)
        for name, group in series.items()
    ]
    return figure(traces, title, "", axis, barmode="group")


def _html_table(suite: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows(suite))
    page = f"<table><tr>{head}</tr>{body}</table><p class='note'>{html.escape(_LEGEND)}</p>"
    llm = llm_rows(suite)
    if llm:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in _LLM_HEADERS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in llm)
        page += f"<h3>Decoder LLMs</h3><table><tr>{head}</tr>{body}</table>"
        page += f"<p class='note'>{html.escape(_llm_legend(suite))}</p>"
    return page


def write_html(suite: Mapping[str, Any], path: str | Path) -> Path:
    """The self-contained page: matrix table, throughput and latency bars, variants, environment."""
    from inferperf.report.html import render_html

    figs = [
        _bars(suite, "throughput_fps", "Throughput per model (95% CI)", "inferences / s"),
        _bars(suite, "latency_median_ms", "Median latency per model (95% CI)", "ms"),
        _bars(suite, "tpot_median_ms", "Decoder LLMs: median TPOT (95% CI)", "ms per output token"),
    ]
    plots = "".join(
        f.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}) for f in figs if f
    )
    variants = "<ul>" + "".join(f"<li>{html.escape(line[2:])}</li>" for line in _variant_lines(suite)) + "</ul>"
    sections: list[tuple[str, dict[str, Any] | None, str]] = [
        ("Matrix", None, _html_table(suite)),
        ("Charts", None, plots),
        ("Variants", None, variants),
        ("Driver", {"environment": suite.get("environment")}, ""),  # its environment table closes the page
    ]
    return render_html(_title(suite), sections, path)


def _variant_lines(suite: Mapping[str, Any]) -> list[str]:
    return [line for line in to_markdown(suite).splitlines() if line.startswith("- ")]


def write_reports(suite: Mapping[str, Any], out: Path) -> dict[str, str]:
    """suite.md, suite.csv and suite.html in ``out``; their paths."""
    from inferperf.results.schema import atomic_write_text

    return {
        "markdown": str(atomic_write_text(to_markdown(suite), out / "suite.md")),
        "csv": str(atomic_write_text(to_csv(suite), out / "suite.csv")),
        "html": str(write_html(suite, out / "suite.html")),
    }
