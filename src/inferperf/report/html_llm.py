"""HTML figures of generative results: TTFT/TPOT distributions, TTFT against prompt length, the KV cache's
memory, serving levels (tokens/s and goodput against load) and weight compression's speed-ups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from inferperf.report.plots import Figure
from inferperf.report.plots import ci_line as _ci_line
from inferperf.report.plots import err_triple as _err
from inferperf.report.plots import error_bars as _bars
from inferperf.report.plots import go_module as _go
from inferperf.report.plots import layout as _layout


def _cdf(values: list[float], name: str) -> Any:
    x = np.sort(np.asarray(values, dtype=float))
    return _go().Scatter(x=x, y=np.arange(1, x.size + 1) / x.size, mode="lines", name=name)


def _request_cdfs(doc: Mapping[str, Any], key: str, title: str, unit: str) -> Figure | None:
    fig = _go().Figure()
    for result in doc.get("results") or []:
        for level in result.get("levels") or []:
            values = [float(r[key]) for r in level.get("raw") or [] if r.get(key) is not None]
            if len(values) >= 2:
                fig.add_trace(_cdf(values, f"{result['backend']} prompt {level['prompt_tokens']}"))
    if not fig.data:
        return None
    return _layout(fig, f"{title} per request (CDF)", unit, "fraction of requests")


def generate_ttft_cdf(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT per request, one curve per backend and prompt length."""
    return _request_cdfs(doc, "ttft_ms", "TTFT", "time to first token (ms)")


def generate_tpot_cdf(doc: Mapping[str, Any]) -> Figure | None:
    """TPOT per request, one curve per backend and prompt length."""
    return _request_cdfs(doc, "tpot_ms", "TPOT", "time per output token (ms)")


def generate_ttft_vs_prompt(doc: Mapping[str, Any]) -> Figure | None:
    """Median TTFT (95% CI) against prompt length, one line per backend: prefill's cost per token."""
    fig = _go().Figure()
    for result in doc.get("results") or []:
        levels = result.get("levels") or []
        if len(levels) < 2:
            continue
        vals = [_err(level["ttft_ms"]["median"]) for level in levels]
        fig.add_trace(_ci_line([lv["prompt_tokens"] for lv in levels], vals, result["backend"], []))
    if not fig.data:
        return None
    return _layout(fig, "TTFT against prompt length (median, 95% CI)", "prompt tokens", "ms")


def generate_memory(doc: Mapping[str, Any]) -> Figure | None:
    """RSS over one long request's tokens, per backend: the KV cache's growth, with the theory's slope."""
    go = _go()
    fig = go.Figure()
    for result in doc.get("results") or []:
        memory = result.get("memory") or {}
        trace = memory.get("trace_mib") or []
        if len(trace) < 2:
            continue
        tokens = memory["kv_cache"]["new_tokens"]
        x = np.linspace(0, tokens - 1, len(trace))
        fig.add_trace(go.Scatter(x=x, y=trace, mode="lines+markers", name=f"{result['backend']} RSS"))
        per_token = memory["kv_cache"]["theory"].get("bytes_per_token")
        if per_token:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=trace[0] + x * per_token / 2**20,
                    mode="lines",
                    line={"dash": "dot"},
                    name=f"{result['backend']} theory ({memory['kv_cache']['theory']['precision']})",
                )
            )
    if not fig.data:
        return None
    return _layout(fig, "Resident memory over one request's generated tokens", "generated tokens", "RSS (MiB)")


def generate_batch(doc: Mapping[str, Any]) -> Figure | None:
    """Output tokens/s against static batch size (mean over rounds, 95% CI), the median TPOT beside it."""
    go = _go()
    sizes = (doc.get("batch") or {}).get("sizes") or []
    if not sizes:
        return None
    x = [s["batch"] for s in sizes]
    rates = [_err({"value": s["output_tokens_per_s"]["mean"], "ci95": s["output_tokens_per_s"]["ci95"]}) for s in sizes]
    fig = go.Figure()
    fig.add_trace(_ci_line(x, rates, "output tokens/s (all sequences)", []))
    fig.add_trace(
        go.Scatter(x=x, y=[s["tpot_ms_median"] for s in sizes], mode="lines+markers", name="TPOT median", yaxis="y2")
    )
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "TPOT (ms)"}, xaxis={"type": "log"})
    prompt, new = doc["batch"]["prompt_tokens"], doc["batch"]["new_tokens"]
    return _layout(fig, f"Tokens/s against batch size ({prompt} prompt + {new} new tokens)", "batch", "tokens / s")


def serving_cdfs(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT from arrival per request, one curve per load level."""
    fig = _go().Figure()
    for level in doc.get("levels") or []:
        values = [float(r["ttft_ms"]) for r in level.get("raw") or []]
        if len(values) >= 2:
            fig.add_trace(_cdf(values, level["load"]["label"]))
    if not fig.data:
        return None
    return _layout(fig, "TTFT from arrival per request (CDF), per load level", "ms", "fraction of requests")


def serving_rates(doc: Mapping[str, Any]) -> Figure | None:
    """Output tokens/s, and goodput against load: where more load stops paying."""
    go = _go()
    levels = doc.get("levels") or []
    if not levels:
        return None
    labels = [level["load"]["label"] for level in levels]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=[level["output_tokens_per_s"] for level in levels], name="output tokens/s"))
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=[level["slo"]["goodput_requests_per_s"] for level in levels],
            mode="lines+markers",
            name="goodput (requests/s meeting every SLO)",
            yaxis="y2",
        )
    )
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "requests / s"})
    return _layout(fig, "Tokens/s and goodput per load level", "load", "output tokens / s")


def compress_speedups(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT and TPOT speed-up of each compressed variant over the uncompressed model (paired 95% CI)."""
    go = _go()
    speedup = (doc.get("speed") or {}).get("speedup") or {}
    if not speedup:
        return None
    fig = go.Figure()
    for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT")):
        vals = [_err(s[key]) for s in speedup.values()]
        fig.add_trace(go.Bar(x=list(speedup), y=[v for v, _, _ in vals], error_y=_bars(vals), name=label))
    return _layout(fig, "Speed-up over the uncompressed model (paired over rounds, 95% CI)", "variant", "x")


def optimize_trials(doc: Mapping[str, Any]) -> Figure | None:
    """Every search trial: output tokens/s against p99 TTFT; the Pareto front joined, the winner marked."""
    go = _go()
    trials = [t for t in ((doc.get("search") or {}).get("trials") or []) if t.get("figures")]
    if not trials:
        return None
    fig = go.Figure()
    for feasible, name in ((True, "meets the SLOs"), (False, "misses an SLO")):
        group = [t for t in trials if t["feasible"] is feasible]
        fig.add_trace(
            go.Scatter(
                x=[t["figures"]["ttft_p99_ms"] for t in group],
                y=[t["figures"]["output_tokens_per_s"] for t in group],
                text=[t["candidate"]["label"] for t in group],
                mode="markers",
                name=name,
            )
        )
    front = sorted(
        (t for t in trials if t["number"] in set(doc["search"].get("pareto") or [])),
        key=lambda t: t["figures"]["ttft_p99_ms"],
    )
    fig.add_trace(
        go.Scatter(
            x=[t["figures"]["ttft_p99_ms"] for t in front],
            y=[t["figures"]["output_tokens_per_s"] for t in front],
            mode="lines",
            name="Pareto front",
        )
    )
    winner = (doc.get("headline") or {}).get("winner_figures")
    if winner:
        fig.add_trace(
            go.Scatter(
                x=[winner["ttft_p99_ms"]],
                y=[winner["output_tokens_per_s"]],
                mode="markers",
                marker={"symbol": "star", "size": 16},
                name="winner",
            )
        )
    return _layout(fig, "Search trials: output tokens/s against p99 TTFT", "p99 TTFT (ms)", "output tokens / s")


def optimize_verify_cdfs(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT and TPOT per request of the verification rounds, default against winner."""
    raw = (doc.get("verify") or {}).get("raw") or {}
    if not raw:
        return None
    fig = _go().Figure()
    for name, rows in raw.items():
        for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT")):
            fig.add_trace(_cdf([float(r[key]) for r in rows], f"{name} {label}"))
    return _layout(fig, "Verification: TTFT and TPOT per request (CDF)", "ms", "fraction of requests")


def optimize_speedups(doc: Mapping[str, Any]) -> Figure | None:
    """Each finalist's verified gains over the uncompressed default (paired 95% CI), the winner named."""
    go = _go()
    verified = doc.get("verify") or {}
    speedups = verified.get("speedups") or {}
    if not speedups:
        return None
    fig = go.Figure()
    for name, gains in speedups.items():
        vals = [_err(g) for g in gains.values()]
        label = f"{name}: {verified['candidates'][name]['label']}" + (
            " (winner)" if name == verified.get("winner") else ""
        )
        fig.add_trace(go.Bar(x=list(gains), y=[v for v, _, _ in vals], error_y=_bars(vals), name=label))
    return _layout(fig, "Finalists over the uncompressed default (paired over rounds, 95% CI)", "figure", "x")


BUILDERS = {
    "optimize-llm": (optimize_speedups, optimize_trials, optimize_verify_cdfs),
    "generate": (generate_ttft_cdf, generate_tpot_cdf, generate_ttft_vs_prompt, generate_memory, generate_batch),
    "generate-serving": (serving_cdfs, serving_rates),
    "llm-compress": (compress_speedups,),
}
