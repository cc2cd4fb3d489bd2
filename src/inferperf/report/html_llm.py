"""HTML figures of generative results: TTFT/TPOT distributions, TTFT against prompt length, the KV cache's
memory, serving levels (tokens/s and goodput against load) and weight compression's speed-ups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from inferperf.report.plots import Figure
from inferperf.report.plots import ci_bar as _ci_bar
from inferperf.report.plots import ci_line as _ci_line
from inferperf.report.plots import err_triple as _err
from inferperf.report.plots import figure as _figure
from inferperf.report.plots import go_module as _go


def _cdf(values: list[float], name: str) -> Any:
    x = np.sort(np.asarray(values, dtype=float))
    return _go().Scatter(x=x, y=np.arange(1, x.size + 1) / x.size, mode="lines", name=name)


def _request_cdfs(doc: Mapping[str, Any], key: str, title: str, unit: str) -> Figure | None:
    traces = []
    for result in doc.get("results") or []:
        for level in result.get("levels") or []:
            values = [float(r[key]) for r in level.get("raw") or [] if r.get(key) is not None]
            if len(values) >= 2:
                traces.append(_cdf(values, f"{result['backend']} prompt {level['prompt_tokens']}"))
    return _figure(traces, f"{title} per request (CDF)", unit, "fraction of requests")


def generate_ttft_cdf(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT per request, one curve per backend and prompt length."""
    return _request_cdfs(doc, "ttft_ms", "TTFT", "time to first token (ms)")


def generate_tpot_cdf(doc: Mapping[str, Any]) -> Figure | None:
    """TPOT per request, one curve per backend and prompt length."""
    return _request_cdfs(doc, "tpot_ms", "TPOT", "time per output token (ms)")


def generate_ttft_vs_prompt(doc: Mapping[str, Any]) -> Figure | None:
    """Median TTFT (95% CI) against prompt length, one line per backend: prefill's cost per token."""
    traces = []
    for result in doc.get("results") or []:
        levels = result.get("levels") or []
        if len(levels) >= 2:
            vals = [_err(level["ttft_ms"]["median"]) for level in levels]
            traces.append(_ci_line([lv["prompt_tokens"] for lv in levels], vals, result["backend"], []))
    return _figure(traces, "TTFT against prompt length (median, 95% CI)", "prompt tokens", "ms")


def generate_memory(doc: Mapping[str, Any]) -> Figure | None:
    """RSS over one long request's tokens, per backend: the KV cache's growth, with the theory's slope."""
    go = _go()
    traces = []
    for result in doc.get("results") or []:
        memory = result.get("memory") or {}
        trace = memory.get("trace_mib") or []
        if len(trace) < 2:
            continue
        tokens, theory = memory["kv_cache"]["new_tokens"], memory["kv_cache"]["theory"]
        x = np.linspace(0, tokens - 1, len(trace))
        traces.append(go.Scatter(x=x, y=trace, mode="lines+markers", name=f"{result['backend']} RSS"))
        per_token = theory.get("bytes_per_token")
        if per_token:
            name = f"{result['backend']} theory ({theory['precision']})"
            traces.append(
                go.Scatter(x=x, y=trace[0] + x * per_token / 2**20, mode="lines", line={"dash": "dot"}, name=name)
            )
    title = "Resident memory over one request's generated tokens"
    return _figure(traces, title, "generated tokens", "RSS (MiB)")


def generate_batch(doc: Mapping[str, Any]) -> Figure | None:
    """Output tokens/s against static batch size (mean over rounds, 95% CI), the median TPOT beside it."""
    sizes = (doc.get("batch") or {}).get("sizes") or []
    if not sizes:
        return None
    x = [s["batch"] for s in sizes]
    rates = [_err({"value": s["output_tokens_per_s"]["mean"], "ci95": s["output_tokens_per_s"]["ci95"]}) for s in sizes]
    tpot = [s["tpot_ms_median"] for s in sizes]
    traces = [
        _ci_line(x, rates, "output tokens/s (all sequences)", []),
        _go().Scatter(x=x, y=tpot, mode="lines+markers", name="TPOT median", yaxis="y2"),
    ]
    prompt, new = doc["batch"]["prompt_tokens"], doc["batch"]["new_tokens"]
    title = f"Tokens/s against batch size ({prompt} prompt + {new} new tokens)"
    right = {"overlaying": "y", "side": "right", "title": "TPOT (ms)"}
    return _figure(traces, title, "batch", "tokens / s", yaxis2=right, xaxis_type="log")


def serving_cdfs(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT from arrival per request, one curve per load level."""
    traces = []
    for level in doc.get("levels") or []:
        values = [float(r["ttft_ms"]) for r in level.get("raw") or []]
        if len(values) >= 2:
            traces.append(_cdf(values, level["load"]["label"]))
    return _figure(traces, "TTFT from arrival per request (CDF), per load level", "ms", "fraction of requests")


def serving_rates(doc: Mapping[str, Any]) -> Figure | None:
    """Output tokens/s, and goodput against load: where more load stops paying."""
    go = _go()
    levels = doc.get("levels") or []
    if not levels:
        return None
    labels = [level["load"]["label"] for level in levels]
    goodput = [level["slo"]["goodput_requests_per_s"] for level in levels]
    traces = [
        go.Bar(x=labels, y=[level["output_tokens_per_s"] for level in levels], name="output tokens/s"),
        go.Scatter(
            x=labels, y=goodput, mode="lines+markers", name="goodput (requests/s meeting every SLO)", yaxis="y2"
        ),
    ]
    right = {"overlaying": "y", "side": "right", "title": "requests / s"}
    return _figure(traces, "Tokens/s and goodput per load level", "load", "output tokens / s", yaxis2=right)


def compress_speedups(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT and TPOT speed-up of each compressed variant over the uncompressed model (paired 95% CI)."""
    speedup = (doc.get("speed") or {}).get("speedup") or {}
    traces = [
        _ci_bar(list(speedup), [_err(s[key]) for s in speedup.values()], label)
        for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"))
    ]
    title = "Speed-up over the uncompressed model (paired over rounds, 95% CI)"
    return _figure(traces if speedup else [], title, "variant", "x")


def _trial_points(trials: list[dict[str, Any]], name: str, **style: Any) -> Any:
    """Output tokens/s against p99 TTFT of these trials' figures, as one trace."""
    x = [t["ttft_p99_ms"] for t in trials]
    return _go().Scatter(x=x, y=[t["output_tokens_per_s"] for t in trials], name=name, **style)


def optimize_trials(doc: Mapping[str, Any]) -> Figure | None:
    """Every search trial: output tokens/s against p99 TTFT; the Pareto front joined, the winner marked."""
    trials = [t for t in ((doc.get("search") or {}).get("trials") or []) if t.get("figures")]
    if not trials:
        return None
    traces = []
    for feasible, name in ((True, "meets the SLOs"), (False, "misses an SLO")):
        group = [t for t in trials if t["feasible"] is feasible]
        labels = [t["candidate"]["label"] for t in group]
        traces.append(_trial_points([t["figures"] for t in group], name, text=labels, mode="markers"))
    pareto = set(doc["search"].get("pareto") or [])
    front = sorted((t["figures"] for t in trials if t["number"] in pareto), key=lambda f: f["ttft_p99_ms"])
    traces.append(_trial_points(front, "Pareto front", mode="lines"))
    winner = (doc.get("headline") or {}).get("winner_figures")
    if winner:
        traces.append(_trial_points([winner], "winner", mode="markers", marker={"symbol": "star", "size": 16}))
    return _figure(traces, "Search trials: output tokens/s against p99 TTFT", "p99 TTFT (ms)", "output tokens / s")


def optimize_verify_cdfs(doc: Mapping[str, Any]) -> Figure | None:
    """TTFT and TPOT per request of the verification rounds, default against winner."""
    raw = (doc.get("verify") or {}).get("raw") or {}
    traces = [
        _cdf([float(r[key]) for r in rows], f"{name} {label}")
        for name, rows in raw.items()
        for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"))
    ]
    return _figure(traces, "Verification: TTFT and TPOT per request (CDF)", "ms", "fraction of requests")


def optimize_speedups(doc: Mapping[str, Any]) -> Figure | None:
    """Each finalist's verified gains over the uncompressed default (paired 95% CI), the winner named."""
    verified = doc.get("verify") or {}
    traces = []
    for name, gains in (verified.get("speedups") or {}).items():
        winner = " (winner)" if name == verified.get("winner") else ""
        label = f"{name}: {verified['candidates'][name]['label']}{winner}"
        traces.append(_ci_bar(list(gains), [_err(g) for g in gains.values()], label))
    title = "Finalists over the uncompressed default (paired over rounds, 95% CI)"
    return _figure(traces, title, "figure", "x")


BUILDERS = {
    "optimize-llm": (optimize_speedups, optimize_trials, optimize_verify_cdfs),
    "generate": (generate_ttft_cdf, generate_tpot_cdf, generate_ttft_vs_prompt, generate_memory, generate_batch),
    "generate-serving": (serving_cdfs, serving_rates),
    "llm-compress": (compress_speedups,),
}
