"""Console report of ``inferperf generate``: one row per prompt length, medians with their intervals."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.report.text import ci, half_width_pct, interval


def _ci(stat: dict[str, Any], digits: int = 2) -> str:
    """The value and the larger side of its interval, in percent (compact enough for 80 columns)."""
    return f"{stat['value']:.{digits}f} ±{half_width_pct(stat):.0f}%"


def render_generate(doc: Mapping[str, Any], console: Console) -> None:
    """Model, and per backend and prompt length: TTFT, TPOT, ITL p99, end to end, tokens/s; the cross-checks."""
    model = doc["model"]
    arch = model.get("architecture", {})
    console.print(
        f"[bold]inferperf generate[/bold] ({escape(doc['device'])}): {escape(model['path'])}"
        + (" [yellow](built-in tiny random-weight model)[/yellow]" * model["builtin"]),
        highlight=False,
    )
    if arch:
        console.print("  " + ", ".join(f"{k}={v}" for k, v in arch.items()), highlight=False)
    opts = doc["options"]
    console.print(
        f"  {opts['new_tokens']} new tokens per request (EOS ignored, greedy), prompts from "
        f"{escape(doc['prompts']['source'])}",
        highlight=False,
    )
    for result in doc["results"]:
        _table(result, console)
        _traffic(result, console)
        if result.get("memory"):
            _memory(result["backend"], result["memory"], console)
    console.print(
        "[dim]TPOT: mean gap after the first token; prefill/decode in tokens/s; /GenAI: our TTFT/TPOT over the "
        "pipeline's own PerfMetrics for the same requests; TTFT with tokenization in the JSON[/dim]"
    )
    if doc.get("batch"):
        _batch(doc["batch"], console)
    if doc.get("cross_check"):
        _cross(doc["cross_check"], console)


def _traffic(result: Mapping[str, Any], console: Console) -> None:
    """What decode reads per second against what this machine can copy: how close it is to its ceiling."""
    rows = [(lv["prompt_tokens"], lv["decode_traffic"]) for lv in result["levels"] if lv.get("decode_traffic")]
    if not rows:
        return
    parts = ", ".join(f"{n} tokens {t['gb_per_s']:.1f} GB/s ({t['fraction_of_memory_copy']:.0%})" for n, t in rows)
    console.print(
        f"  decode reads {result['weights_bytes'] / 1e9:.2f} GB of weights per token: {parts} of this machine's "
        f"copy rate ({rows[0][1]['memory_copy_gb_per_s']:.1f} GB/s)",
        highlight=False,
    )


def _batch(batch: dict[str, Any], console: Console) -> None:
    """Per static batch size: all sequences' tokens/s (mean over rounds) and its speed-up, TTFT, TPOT."""
    table = Table(
        title=f"static batches, {batch['prompt_tokens']} prompt + {batch['new_tokens']} new tokens, "
        f"{batch['rounds']} rounds each (continuous batching engine)",
        show_header=True,
    )
    for col in ("batch", "tokens/s", f"x batch {batch['speedup_over']}", "TTFT ms", "TPOT ms", "TPOT p99", "per seq/s"):
        table.add_column(col, justify="right")
    for s in batch["sizes"]:
        rate = s["output_tokens_per_s"]
        up = s["speedup"]
        table.add_row(
            str(s["batch"]),
            _ci({"value": rate["mean"], "ci95": rate["ci95"]}, 0),
            ci(up),
            f"{s['ttft_ms_median']:.1f}",
            f"{s['tpot_ms_median']:.2f}",
            f"{s['tpot_ms_p99']:.2f}",
            f"{s['per_sequence_tokens_per_s']:.0f}",
        )
    console.print(table)


def _memory(backend: str, memory: dict[str, Any], console: Console) -> None:
    """RSS per phase, and the KV cache's measured growth beside the theory."""
    if "phases_mib" not in memory:
        console.print(f"{backend} memory: {escape(str(memory.get('why')))}")
        return
    phases = memory["phases_mib"]
    console.print(
        f"{backend} RSS, MiB: before load {phases['before_load']:.0f}, after load and compile "
        f"{phases['after_load_and_compile']:.0f}, first token {phases['first_token']:.0f}, last token "
        f"{phases['last_token']:.0f}",
        highlight=False,
    )
    kv = memory["kv_cache"]
    measured, theory = kv["measured"], kv["theory"]
    if measured.get("mib_per_1k_tokens") is None or theory.get("mib_per_1k_tokens") is None:
        console.print(f"  KV cache: {escape(str(measured.get('why') or theory.get('why')))}", highlight=False)
        return
    console.print(
        f"  KV cache growth over {kv['new_tokens']} tokens: {measured['mib_per_1k_tokens']:.2f} MiB per 1k tokens "
        f"measured ({measured['allocation_steps']} allocation steps) vs {theory['mib_per_1k_tokens']:.2f} in theory "
        f"({theory['precision']}: 2 x {theory['layers']} layers x {theory['kv_heads']} KV heads x "
        f"{theory['head_dim']}): x{kv['measured_over_theory']:.2f}",
        highlight=False,
    )
    if kv.get("allocation"):
        console.print(f"  [dim]the cache {escape(kv['allocation'])}[/dim]", highlight=False)
    if theory.get("note"):
        console.print(f"  [yellow]{escape(theory['note'])}[/yellow]", highlight=False)


def _table(result: Mapping[str, Any], console: Console) -> None:
    table = Table(title=f"{result['backend']} (load {result['load_ms']:.0f} ms): medians ±95% CI, ms", show_header=True)
    for col in ("prompt", "req", "TTFT", "TPOT", "ITL p99", "e2e", "prefill/s", "decode/s", "/GenAI"):
        table.add_column(col, justify="right")
    for level in result["levels"]:
        agree = level.get("pipeline_perf_metrics") or {}
        table.add_row(
            str(level["prompt_tokens"]),
            str(level["requests"]),
            _ci(level["ttft_ms"]["median"]),
            _ci(level["tpot_ms"]["median"], 3),
            f"{level['itl_ms']['p99']['value']:.3f}",
            _ci(level["e2e_ms"]["median"], 1),
            f"{level['prefill_tokens_per_s']['median']['value']:.0f}",
            f"{level['decode_tokens_per_s']['median']['value']:.0f}",
            "/".join(f"{v:.2f}" for k, v in agree.items() if k.endswith("_over_pipeline")) or "-",
        )
    console.print(table)


def _cross(cross: dict[str, Any], console: Console) -> None:
    for name, c in cross["against"].items():
        console.print(
            f"cross-check {escape(name)} vs {escape(cross['reference'])} on {cross['prompts']} prompts: next-token "
            f"logit cosine >= {c['prefill_logits_cosine_min']:.6f}, greedy tokens agree "
            f"{c['greedy_token_agreement'] * 100:.0f}% ({cross['new_tokens']} each)",
            highlight=False,
        )


def _queueing_line(doc: Mapping[str, Any], console: Console) -> None:
    alone = doc.get("unloaded")
    if not alone:
        return
    parts = []
    for level in doc["levels"]:
        q = level.get("queueing")
        if q:
            parts.append(
                f"{level['load']['label']}: {q['ttft_beyond_prefill_ms']['median']:.0f} ms "
                f"({q['share_of_ttft'] * 100:.0f}% of TTFT), TPOT x{q['tpot_over_unloaded']:.2f}"
            )
    console.print(
        f"queueing (TTFT beyond the request's own prefill, median) and decode slowdown vs one request alone "
        f"(TTFT {alone['ttft_median_ms']:.0f} ms, TPOT {alone['tpot_median_ms']:.1f} ms): " + "; ".join(parts),
        highlight=False,
    )


def _kv_line(doc: Mapping[str, Any], console: Console) -> None:
    """The most KV cache each level's sequences held at once, against what the engine allocated."""
    caches = [(lv["load"]["label"], lv.get("engine_cache") or {}) for lv in doc["levels"]]
    caches = [(label, c) for label, c in caches if c.get("level_peak_used_mib") is not None]
    if not caches:
        return
    parts = "; ".join(f"{label}: {c['level_peak_used_mib']:.2f}" for label, c in caches)
    console.print(
        f"KV cache held at once, peak MiB (of {caches[-1][1].get('allocated_mib', 0):.0f} allocated): {parts}",
        highlight=False,
    )


def render_serving(doc: Mapping[str, Any], console: Console) -> None:
    """Per load level: TTFT and TPOT percentiles, end to end, throughput, goodput and SLO attainment."""
    opts = doc["options"]
    model = doc["model"]
    where = f" ({escape(doc['device'])})" if doc.get("device") else ""
    console.print(
        f"[bold]inferperf generate[/bold] serving on {escape(doc['backend'])}{where}: "
        f"{escape(model.get('path') or model.get('served_model') or '')}; {opts['requests']} requests per level, "
        f"{opts['prompt_tokens']}-token prompts, {opts['new_tokens']} new tokens, arrivals {escape(opts['arrivals'])}",
        highlight=False,
    )
    slo = {k: v for k, v in opts["slo"].items() if v is not None}
    table = Table(title="TTFT from arrival; ms; p50 / p99", show_header=True)
    for col in ("load", "TTFT", "TPOT", "ITL p99", "e2e p99", "tok/s", "req/s", "failed", "SLO met", "goodput/s"):
        table.add_column(col, justify="right")
    for level in doc["levels"]:
        errors = level.get("errors") or {"count": 0}
        if "ttft_ms" not in level:  # every request failed
            table.add_row(level["load"]["label"], *["-"] * 6, str(errors["count"]), "-", "-")
            continue
        table.add_row(
            level["load"]["label"],
            _p50_p99(level["ttft_ms"], ".2f"),
            _p50_p99(level["tpot_ms"], ".3f"),
            f"{level['itl_ms']['p99']['value']:.3f}",
            f"{level['e2e_ms']['p99']['value']:.1f}",
            f"{level['output_tokens_per_s']:.0f}",
            f"{level['requests_per_s']:.1f}",
            str(errors["count"]),
            f"{level['slo']['attainment'] * 100:.0f}%" if slo else "-",
            f"{level['slo']['goodput_requests_per_s']:.1f}" if slo else "-",
        )
    console.print(table)
    _interval_line(doc, console)
    _queueing_line(doc, console)
    _kv_line(doc, console)
    _endpoint_lines(doc, console)
    if slo:
        console.print("SLOs: " + ", ".join(f"{k} {v:g}" for k, v in slo.items()), highlight=False)
    for level in doc["levels"]:
        verdict = (level.get("overload") or {}).get("verdict")
        if verdict:
            console.print(f"[red]{escape(level['load']['label'])}: {escape(verdict)}[/red]", highlight=False)
    peak = doc.get("peak")
    if peak:
        if peak["rate"] is None:
            console.print("[red]no arrival rate met the SLOs at p99[/red]")
        else:
            tries = len(peak.get("confirm_attempts") or [1])
            if peak.get("confirmed"):
                word = f"confirmed at {peak['confirmed_rate']:.3g} req/s by a run of twice the requests"
                word += f" after {tries - 1} step(s) 10% down" if tries > 1 else ""
            else:
                word = f"[red]NOT confirmed[/red] by {tries} longer runs, each 10% lower"
            console.print(
                f"peak: bisection {peak['rate']:.3g} req/s, {word}; closed-loop capacity "
                f"{peak['capacity_requests_per_s']:.3g} req/s; {len(peak['trials'])} bisection steps",
                highlight=False,
            )


def _p50_p99(summary: dict[str, Any], fmt: str) -> str:
    return f"{summary['median']['value']:{fmt}} / {summary['p99']['value']:{fmt}}"


def _interval_line(doc: Mapping[str, Any], console: Console) -> None:
    """The medians' 95% intervals (the table has no room for them)."""
    parts = []
    for level in doc["levels"]:
        if "ttft_ms" in level:
            cells = [
                f"{k} {interval(v['median'], '.3g')}"
                for k, v in (("TTFT", level["ttft_ms"]), ("TPOT", level["tpot_ms"]))
            ]
            parts.append(f"{level['load']['label']}: {', '.join(cells)}")
    if parts:
        console.print("95% intervals of the medians (ms): " + "; ".join(parts), highlight=False)


def _endpoint_lines(doc: Mapping[str, Any], console: Console) -> None:
    """How tokens were counted, failed requests by kind, and why the run stopped, where these apply."""
    if doc.get("model", {}).get("endpoint"):
        console.print(f"tokens counted by {escape(doc.get('tokens_counted_by') or '?')}", highlight=False)
    for level in doc["levels"]:
        errors = level.get("errors") or {}
        if errors.get("count"):
            kinds = ", ".join(f"{k} {n}" for k, n in errors["by_kind"].items())
            first = errors["examples"][0] if errors.get("examples") else ""
            line = f"{level['load']['label']}: {errors['count']} failed ({kinds}); first: {first}"
            console.print(f"[yellow]{escape(line)}[/yellow]", highlight=False)
    if doc.get("stopped"):
        console.print(f"[red]stopped: {escape(doc['stopped'])}[/red]", highlight=False)


def render_compress(doc: Mapping[str, Any], console: Console) -> None:
    """Per variant: weight bytes, fidelity against FP32, TTFT and TPOT speed-ups with intervals, decode traffic."""
    console.print(
        f"[bold]inferperf llm-compress[/bold] ({escape(doc['device'])}): {escape(doc['model']['path'])}",
        highlight=False,
    )
    speed = doc["speed"]
    table = Table(title=f"against fp32; {speed['rounds']} interleaved rounds; speed-up = fp32 time / variant time")
    columns = ("variant", "KV cache", "weights MB", "logit cos min", "top-1 agree", "greedy agree", "TTFT speed-up")
    for col in (*columns, "TPOT speed-up", "GB/s"):
        table.add_column(col, justify="right")
    for v in doc["variants"]:
        fid, up = v.get("fidelity") or {}, speed["speedup"].get(v["mode"]) or {}
        table.add_row(
            v["mode"],
            str(v.get("kv_cache") or "default"),
            f"{v['weights_bytes'] / 1e6:.2f}",
            f"{fid['logit_cosine_min']:.5f}" if "logit_cosine_min" in fid else "-",
            f"{fid['next_token_top1_agreement'] * 100:.0f}%" if "next_token_top1_agreement" in fid else "-",
            f"{fid['greedy_token_agreement'] * 100:.0f}%" if fid else "-",
            _speedup(up.get("ttft_ms")),
            _speedup(up.get("tpot_ms")),
            f"{v['decode_weight_traffic_gb_per_s']:.2f}",
        )
    console.print(table)
    for v in doc["variants"]:
        for note in (v.get("precision") or {}).get("notes", []):
            console.print(f"[yellow]{escape(v['mode'])}: {escape(note)}[/yellow]", highlight=False)
    console.print(
        f"[dim]GB/s: weight bytes / median TPOT, the memory traffic decode achieved (decode reads every weight "
        f"once per token); this machine copies memory at {doc['memory']['copy_gb_per_s']:.1f} GB/s (one thread)[/dim]"
    )


def _speedup(stat: dict[str, Any] | None) -> str:
    return ci(stat) if stat else "-"


def render_llm_scenario(doc: Mapping[str, Any], console: Console) -> None:
    """LoadGen's verdict on a generative model: validity, TTFT and TPOT percentiles against their bounds."""
    r = doc["result"]
    colour = "green" if r["valid"] else "red"
    console.print(
        f"LoadGen {doc['scenario']} on {Path(str(doc['model']['path'])).name}: [{colour}]{r['validity']}[/{colour}]"
        f" at {doc['settings'].get('server_target_qps') or doc['settings'].get('offline_expected_qps'):.3g} "
        f"queries/s (closed-loop capacity {doc['capacity_requests_per_s']:.3g} req/s)"
    )
    for reason in r["why_invalid"]:
        console.print(f"  [red]{reason}[/red]")
    for key, label, bound in (("ttft_ms", "TTFT", r["ttft_bound_ms"]), ("tpot_ms", "TPOT", r["tpot_bound_ms"])):
        stats = r[key]
        cells = ", ".join(f"{k} {v:.1f}" for k, v in stats.items() if v is not None)
        missing = "not judged in Offline (LoadGen reports tokens/s)" if doc["scenario"] == "offline" else "not logged"
        console.print(f"  {label} ms: {cells or missing}" + (f" (bound {bound:g})" if bound else ""))
    tps, sps = r.get("tokens_per_second"), r.get("samples_per_second")
    console.print(
        f"  {tps if tps is None else f'{tps:.3g}'} tokens/s, {sps if sps is None else f'{sps:.3g}'} samples/s, "
        f"{r['query_count']} queries; logs and scenario.json in {doc['out_dir']}"
    )
    for key, why in doc.get("derived", {}).items():
        console.print(f"  [dim]{key}: {why}[/dim]")
