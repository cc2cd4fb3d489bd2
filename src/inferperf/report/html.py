"""Self-contained HTML reports: plotly figures with plotly.js embedded once, no network at view time.

Every figure shows its intervals (error bars are 95% confidence intervals). A
section is built from a result document by its ``kind``; ``render_html`` takes
any number of them, so one command's result and a whole ``optimize`` run use
the same code.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inferperf.errors import ResultError
from inferperf.report.plots import Figure
from inferperf.report.plots import ci_bar as _ci_bar
from inferperf.report.plots import ci_line as _ci_line
from inferperf.report.plots import err_triple as _err
from inferperf.report.plots import error_bars as _bars
from inferperf.report.plots import figure as _figure
from inferperf.report.plots import go_module as _go
from inferperf.report.text import interval
from inferperf.results.documents import Document, parse
from inferperf.stats import Estimate

_MAX_POINTS = 1500
_PHASES = ("python_start_ms", "import_ms", "read_ms", "compile_ms", "first_inference_ms")


def latency_cdf(doc: Mapping[str, Any]) -> Figure | None:
    """Distribution of per-request latency per run, with p50/p90/p99 and their intervals marked."""
    go = _go()
    traces = []
    for run in doc.get("runs", []):
        lat = np.sort(np.asarray((run.get("samples") or {}).get("latency_ms", []), dtype=float))
        if lat.size < 2:
            continue
        idx = np.unique(np.linspace(0, lat.size - 1, min(lat.size, _MAX_POINTS)).astype(int))
        name = f"{run['backend']} {run['scenario']}"
        traces.append(go.Scatter(x=lat[idx], y=(idx + 1) / lat.size, mode="lines", name=name))
        pcts = [(q, run["latency_ms"][k]) for q, k in ((0.5, "median"), (0.9, "p90"), (0.99, "p99"))]
        xs = [_err(s) for _, s in pcts]
        marks = [q for q, _ in pcts]
        traces.append(
            go.Scatter(x=[v for v, _, _ in xs], y=marks, mode="markers", name=f"{name} p50/p90/p99", error_x=_bars(xs))
        )
    title = "Latency distribution (CDF; markers: percentiles with 95% CI)"
    return _figure(traces, title, "latency (ms)", "fraction of requests")


def throughput_bars(doc: Mapping[str, Any]) -> Figure | None:
    """Throughput per run with its interval."""
    runs = doc.get("runs", [])
    vals = [_err(r["throughput_fps"]) for r in runs]
    traces = [_ci_bar([f"{r['backend']} {r['scenario']}" for r in runs], vals)] if runs else []
    return _figure(traces, "Throughput (95% CI)", "run", "inferences / s")


def sweep_curve(doc: Mapping[str, Any]) -> Figure | None:
    """Latency against throughput as requests in flight grow: the knee of the curve."""
    go = _go()
    by_series: dict[str, list[dict[str, Any]]] = {}
    for p in doc.get("points", []):
        by_series.setdefault(p.get("series", "sweep"), []).append(p)
    traces = []
    for series, points in by_series.items():
        tp = [_err(p["throughput_fps"]) for p in points]
        lat = [_err(p["latency_ms"]["median"]) for p in points]
        traces.append(
            go.Scatter(
                x=[v for v, _, _ in tp],
                y=[v for v, _, _ in lat],
                mode="lines+markers+text",
                text=[f"{p['requests']} req" for p in points],
                textposition="top center",
                name=series,
                error_x=_bars(tp),
                error_y=_bars(lat),
            )
        )
    title = "Latency-throughput curve (requests in flight; 95% CI)"
    return _figure(traces, title, "throughput (inferences / s)", "median latency (ms)")


def coldstart_phases(doc: Mapping[str, Any]) -> Figure | None:
    """First-inference latency split into its phases, per start-up variant (a phase not run: no bar)."""
    variants = [v for v in doc.get("variants", []) if v.get("phases")]
    labels = [v["label"] for v in variants]
    traces = []
    for phase in _PHASES if variants else ():
        vals = [_err(s) if s else (0.0, 0.0, 0.0) for s in (v["phases"].get(phase) for v in variants)]
        traces.append(_ci_bar(labels, vals, phase.removesuffix("_ms").replace("_", " "), orientation="h"))
    title = "First inference: phases (medians of fresh processes, 95% CI)"
    return _figure(traces, title, "milliseconds", "", barmode="stack")


def memory_scatter(doc: Mapping[str, Any]) -> Figure | None:
    """Peak resident memory against throughput, per configuration."""
    rows = [r for r in doc.get("rows", []) if r.get("ok")]
    traces = [
        _go().Scatter(
            x=[r["throughput_fps"] for r in rows],
            y=[r["peak_mb"] for r in rows],
            mode="markers+text",
            text=[f"{Path(r['model']).stem}: {r['label']}" for r in rows],
            textposition="top center",
        )
    ]
    title = "Memory against throughput (peak RSS of a fresh process)"
    return _figure(traces if rows else [], title, "throughput (inferences / s)", "peak memory (MB)")


def pareto_scatter(doc: Mapping[str, Any]) -> Figure | None:
    """Tuning trials: throughput against p99 latency, the front highlighted, intervals as error bars."""
    go = _go()
    trials = [t for t in doc.get("trials", []) if t.get("status") == "ok"]
    front = set(doc.get("pareto") or [])
    traces = []
    for name, group in (
        ("Pareto front", [t for t in trials if t["number"] in front]),
        ("within budget", [t for t in trials if t["number"] not in front and t.get("feasible")]),
        ("over budget", [t for t in trials if t["number"] not in front and not t.get("feasible")]),
    ):
        if not group:
            continue
        tp = [_err(t["throughput"]) for t in group]
        p99 = [_err(t["latency"]["p99"]) for t in group]
        text = [f"#{t['number']} {t['target']} {t['params']} peak {t.get('peak_mb') or 0:.0f} MB" for t in group]
        traces.append(
            go.Scatter(
                x=[v for v, _, _ in p99],
                y=[v for v, _, _ in tp],
                mode="markers",
                name=name,
                text=text,
                error_x=_bars(p99),
                error_y=_bars(tp),
                marker={"size": 9},
            )
        )
    # p99 spans orders of magnitude across batch sizes and request counts: a log axis
    title = "Tuning trials: throughput against p99 (short trials, 95% CI)"
    return _figure(traces, title, "p99 latency (ms, log scale)", "throughput (inferences / s)", xaxis_type="log")


def _top1(value: float, n: int) -> Estimate:
    """Top-1 with its exact (Clopper-Pearson) interval over ``n`` held-out samples."""
    from inferperf.stats import clopper_pearson

    lo, hi = clopper_pearson(round(value * n), n) if n else (value, value)
    return {"value": value, "ci95": [lo, hi]}


def accuracy_speed(doc: Mapping[str, Any]) -> Figure | None:
    """Each variant's held-out accuracy against its measured speed-up over FP32, both with intervals."""
    go = _go()
    n = int((doc.get("held_out") or {}).get("samples") or 0)
    points = [
        (c.get("label", "?"), _top1(c["top1"], n), c["speed"]["throughput_speedup"])
        for c in doc.get("candidates", [])
        if c.get("top1") is not None and (c.get("speed") or {}).get("throughput_speedup")
    ]
    traces = []
    base = (doc.get("fp32") or {}).get("top1")
    if points and base is not None:
        b = _err(_top1(base, n))
        traces.append(
            go.Scatter(x=[1.0], y=[b[0]], mode="markers+text", text=["FP32"], name="FP32", error_y=_bars([b]))
        )
    for label, acc, speed in points:  # one trace per variant, so the legend names them
        x, y = _err(speed), _err(acc)
        traces.append(
            go.Scatter(
                x=[x[0]],
                y=[y[0]],
                mode="markers",
                name=label,
                error_x=_bars([x]),
                error_y=_bars([y]),
                marker={"size": 10},
            )
        )
    title = "Held-out top-1 against speed-up over FP32 (95% CI)"
    return _figure(traces, title, "throughput speed-up (x)", "top-1 accuracy")


def _environment_table(env: dict[str, Any]) -> str:
    cpu = env.get("cpu", {})
    rows = [
        ("CPU", cpu.get("model")),
        ("cores", cpu.get("cores")),
        ("features", ", ".join(cpu.get("features", []))),
        ("memory", f"{env.get('memory_gb', '?')} GB"),
        ("OS", env.get("os")),
        ("Python", env.get("python")),
    ]
    rows += sorted((f"{k}", v) for k, v in (env.get("versions") or {}).items())
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table class='env'>{body}</table>"


def verify_bars(doc: Mapping[str, Any]) -> Figure | None:
    """Per-round throughput of each side of an interleaved comparison, and the paired speed-up."""
    go = _go()
    traces = []
    for label, cand in zip(doc.get("labels", []), doc.get("candidates", []), strict=False):
        rounds = cand["throughput_fps_per_round"]
        traces.append(go.Scatter(x=list(range(1, len(rounds) + 1)), y=rounds, mode="lines+markers", name=label))
    sp = doc.get("speedup")
    title = "Throughput per interleaved round"
    if sp:
        title += f": speed-up x{sp['value']:.2f} [95% CI {interval(sp)[1:]}"
    return _figure(traces, title, "round", "inferences / s")


def e2e_stages(doc: Mapping[str, Any]) -> Figure | None:
    """Where an application's time goes: each stage's median (95% CI), host path and fused path."""
    traces = []
    for label, part in (("host pre-processing", doc.get("sequential")), ("fused into the model", doc.get("fused"))):
        stages = (part or {}).get("stages") or {}
        if stages:
            vals = [_err(v["median"]) for v in stages.values()]
            traces.append(_ci_bar(list(stages), vals, label, orientation="h"))
    return _figure(traces, "End-to-end stages: median per input (95% CI)", "milliseconds", "")


def e2e_throughput(doc: Mapping[str, Any]) -> Figure | None:
    """Sequential against pipelined throughput."""
    found = [(k, (doc.get(k) or {}).get("throughput_fps")) for k in ("sequential", "pipelined")]
    pairs: list[tuple[str, dict[str, Any]]] = [(k, v) for k, v in found if isinstance(v, dict)]
    traces = [_ci_bar([k for k, _ in pairs], [_err(v) for _, v in pairs])] if pairs else []
    return _figure(traces, "End-to-end throughput (95% CI)", "pipeline", "inputs / s")


def profile_layers(doc: Mapping[str, Any]) -> Figure | None:
    """The hottest layers' mean time, coloured by the precision they ran in."""
    go = _go()
    layers = ((doc.get("profile") or {}).get("layers") or [])[:20]
    traces = []
    for precision in sorted({str(layer.get("precision")) for layer in layers}):
        group = [layer for layer in layers if str(layer.get("precision")) == precision]
        traces.append(
            go.Bar(
                y=[f"{layer['name']} ({layer.get('op_type', '')})" for layer in group],
                x=[layer["mean_ms"] for layer in group],
                orientation="h",
                name=precision,
                text=[str(layer.get("kernel", "")) for layer in group],
            )
        )
    title = "Hottest layers (mean time per inference; colour: precision it ran in)"
    return _figure(traces, title, "ms", "", yaxis_autorange="reversed")


def profile_growth(doc: Mapping[str, Any]) -> Figure | None:
    """profile --shapes: time per op type against input elements, log-log, so a steeper line grows faster."""
    go = _go()
    groups = doc.get("groups") or []
    rows = (doc.get("scaling") or [])[:9] if len(groups) >= 2 else []
    x = [g["elements"] for g in groups]
    traces = []
    for row in rows:
        slope = row.get("growth_exponent")
        label = f"{row['op_type']} (exponent {slope:.2f})" if slope is not None else row["op_type"]
        names = [g["group"] for g in groups]
        traces.append(go.Scatter(x=x, y=row["mean_ms"], mode="lines+markers", name=label, text=names))
    title = "Time per op type against input size (log-log: slope = growth exponent)"
    return _figure(traces, title, "input elements", "ms", xaxis_type="log", yaxis_type="log")


def dynamic_latency_size(doc: Mapping[str, Any]) -> Figure | None:
    """Median latency (95% CI) of each shape group against its mean input size, one line per strategy."""
    traces = []
    for rec in doc.get("strategies", []):
        groups = rec.get("groups") or []
        if rec.get("status") == "ok" and groups:
            vals = [_err(g["latency_ms"]["median"]) for g in groups]
            names = [g["group"] for g in groups]
            traces.append(_ci_line([g["mean_elements"] for g in groups], vals, rec["name"], names))
    title = "Latency against input size, per shape group (median, 95% CI)"
    return _figure(traces, title, "input elements", "ms")


def dynamic_strategies(doc: Mapping[str, Any]) -> Figure | None:
    """Throughput of each strategy over the same stream (95% CI over interleaved passes)."""
    ok = [r for r in doc.get("strategies", []) if r.get("status") == "ok"]
    text = [f"waste {r['padding_waste'] * 100:.0f}%, compile {r['compile_ms']:.0f} ms" for r in ok]
    traces = [_ci_bar([r["name"] for r in ok], [_err(r["throughput"]) for r in ok], text=text)] if ok else []
    return _figure(traces, "Strategies on one shape stream: throughput (95% CI)", "strategy", "inputs / s")


def scenario_latency(doc: Mapping[str, Any]) -> Figure | None:
    """LoadGen's per-sample latency percentiles for the scenario, with the latency bound when there is one."""
    result = doc.get("result") or {}
    lat = result.get("latency_ms") or {}
    keys = [k for k in ("p50", "p90", "p95", "p99", "p99.9") if lat.get(k) is not None]
    traces = [_go().Bar(x=keys, y=[lat[k] for k in keys], name="per sample")] if keys else []
    title = f"LoadGen {result.get('scenario', doc.get('scenario'))}: latency percentiles ({result.get('validity')})"
    fig = _figure(traces, title, "percentile", "ms")
    bound = result.get("target_latency_ms")
    if fig is not None and bound:
        fig.add_hline(y=bound, line_dash="dash", annotation_text=f"bound {bound:.0f} ms")
    return fig


def scenario_groups(doc: Mapping[str, Any]) -> Figure | None:
    """With --shapes: median and p90 latency (95% CI) of each shape group, in size order."""
    groups = [g for g in ((doc.get("result") or {}).get("per_group") or []) if g.get("latency_ms")]
    x, text = [g["group"] for g in groups], [f"{g['samples']} samples" for g in groups]
    traces = [_ci_line(x, [_err(g["latency_ms"][key]) for g in groups], key, text) for key in ("median", "p90")]
    since = groups[0].get("measured_from", "issue") if groups else ""
    title = f"Latency per shape group (SUT clock from {since}; 95% CI)"
    return _figure(traces if groups else [], title, "shape group", "ms")


def quantize_groups(doc: Mapping[str, Any]) -> Figure | None:
    """--shapes: each measured candidate's speed-up over FP32 per shape group (95% CI), fidelity as hover text."""
    traces = []
    for c in doc.get("candidates", []):
        groups = c.get("speed", {}).get("per_group") or []
        if groups:
            fid = c.get("fidelity", {}).get("per_group", {})
            text = [f"cosine {fid.get(g['group'], {}).get('cosine_mean', float('nan')):.4f}" for g in groups]
            vals = [_err(g["speedup"]) for g in groups]
            traces.append(_ci_line([g["group"] for g in groups], vals, c["label"], text))
    fig = _figure(traces, "Speed-up over FP32 per shape group (paired rounds, 95% CI)", "shape group", "x FP32")
    if fig is not None:
        fig.add_hline(y=1.0, line_dash="dot", annotation_text="FP32")
    return fig


def coldstart_groups(doc: Mapping[str, Any]) -> Figure | None:
    """--shapes: first against second inference at each group's shape, per start-up variant (medians, 95% CI)."""
    traces = []
    for v in doc.get("variants", []):
        groups = v.get("groups") or []
        if groups:
            vals = [_err(g["first_over_second"]) for g in groups]
            text = [f"{g['first_ms']['value']:.1f} vs {g['second_ms']['value']:.1f} ms" for g in groups]
            traces.append(_ci_line([g["group"] for g in groups], vals, v["label"], text))
    title = "First sight of each shape in a fresh process: first / second inference"
    return _figure(traces, title, "shape group", "x")


_BUILDERS: dict[str, tuple[Callable[[Mapping[str, Any]], Figure | None], ...]] = {
    "dynamic": (dynamic_latency_size, dynamic_strategies),
    "scenario": (scenario_latency, scenario_groups),
    "e2e": (e2e_stages, e2e_throughput),
    "profile": (profile_layers,),
    "profile-shapes": (profile_growth,),
    "verify": (verify_bars,),
    "bench": (latency_cdf, throughput_bars),
    "sweep": (sweep_curve,),
    "coldstart": (coldstart_phases, coldstart_groups),
    "memory": (memory_scatter,),
    "tune": (pareto_scatter,),
    "quantize": (accuracy_speed, quantize_groups),
    # prune and precision write the guarded document quantize writes: the same views
    "prune": (accuracy_speed, quantize_groups),
    "precision": (accuracy_speed, quantize_groups),
}


def _builders() -> dict[str, tuple[Callable[[Mapping[str, Any]], Figure | None], ...]]:
    from inferperf.report.html_llm import BUILDERS

    return {**_BUILDERS, **BUILDERS}


def figures_for(doc: Mapping[str, Any]) -> list[Figure]:
    """The figures a result document of this kind supports (kinds without figures give none)."""
    kind = str(doc.get("kind", "bench" if "runs" in doc else ""))
    figs = [build(doc) for build in _builders().get(kind, ())]
    return [f for f in figs if f is not None]


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0} th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f6f6f6} .note{color:#555} .error{color:#b00}
"""


def render_html(
    title: str,
    sections: Sequence[tuple[str, Mapping[str, Any] | None, str]],
    path: str | Path,
    intro_html: str = "",
) -> Path:
    """Write one self-contained page: (heading, result document or None, extra HTML) per section."""
    from plotly.offline import get_plotlyjs

    from inferperf.results.schema import atomic_write_text

    parts = [f"<h1>{html.escape(title)}</h1>", intro_html]
    env = next((doc["environment"] for _, doc, _ in sections if doc and doc.get("environment")), None)
    for heading, doc, extra in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{extra}")
        for fig in figures_for(doc) if doc else []:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))
    if env:
        parts.append("<h2>Environment</h2>" + _environment_table(env))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>" + "\n".join(parts) + "</body></html>"
    )
    return atomic_write_text(page, path)


def report_for(document: Document | Mapping[str, Any], path: str | Path) -> Path:
    """Render any single result document (a mapping is read as its kind's type first)."""
    if not isinstance(document, Document):
        document = parse(document)
    doc, kind = document.to_dict(), document.kind or "result"
    if not figures_for(doc) and kind not in _builders():
        raise ResultError(f"no HTML view for {kind!r} results yet (views exist for: {', '.join(_builders())})")
    return render_html(f"inferperf {kind}: {document.model_name}", [(kind, doc, "")], path)
